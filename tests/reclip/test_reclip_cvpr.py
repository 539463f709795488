"""ReCLIP (CVPR 2024), the conference variant (docs/reclip_pp.md §12, issue 14, item 2): every formula against an independent
computation, the per-dataset constants pinned, and the whole chain through the tools on the tiny CLIP."""
import copy
import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmseg.registry import MODELS

from conftest import reclip_config, test_metrics, train_scalars
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from conftest import ROOT, TINY_CLIP, options_dict, run_tool, tiny_options, trained_rect_checkpoint
from reclip_mmseg.datasets.hypotheses import preprocess_whole_image, scores_to_labels
from reclip_mmseg.models import PositionalBiasNet, build_teacher
from reclip_mmseg.models.reclip_pp.distill import student_head_from_teacher

RECTIFY = 'configs/reclip/reclip_vit-b16_20k_voc20.py'
DISTILL = 'configs/reclip/reclip-distill_r50_20k_voc20.py'
TINY = {f'{w}.{k}': v for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
        for k, v in TINY_CLIP.items()}
DATASETS = ('voc', 'context', 'ade20k', 'cityscapes', 'cocostuff27')


def tiny_model(config=RECTIFY, **head):
    cfg = Config.fromfile(f'{ROOT}/{config}')
    cfg.merge_from_dict(TINY)
    cfg.model.decode_head.update(head)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def _batch(B=2, size=64):
    samples = [SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 20, (1, size, size))),
                             metainfo=dict(image_level_labels=[b, 5], img_shape=(size, size),
                                           pad_shape=(size, size), ori_shape=(size, size))) for b in range(B)]
    return torch.randn(B, 3, size, size), samples


def test_conference_constants_are_pinned_per_dataset():
    expected = dict(voc20=(0.23, 2), context59=(0.20, 6), ade20k=(0.21, 5), cityscapes=(0.215, 2), cocostuff27=(0.20, 8))
    for name, (threshold, k) in expected.items():
        cfg = Config.fromfile(f'{ROOT}/{reclip_config("reclip", name)}')
        head = cfg.model.decode_head
        assert head.type == 'DependentBiasHead' and head.mask_decoder is None
        assert head.gumbel.scale == 1000.0 and head.gumbel.tau == 1.0 and head.gumbel.hard
        assert head.denoise_temperature == 100.0 and head.bias_mode == 'subtract'
        # the release's ReCLIP_PD thresholds (0.5; Context 0.6), suppressed logits set to -100 (all suppressed -> 0)
        assert head.denoise_threshold == (0.6 if name == 'context59' else 0.5) and head.denoise_fill == -100.0
        assert head.prompt_learner.num_context == 73 and head.prompt_learner.normalize == 'frobenius'
        assert head.bias_projector.hidden_channels == (512, 256)
        assert head.bias_projector.weight_init == 'kaiming_fan_out'
        assert cfg.hypotheses == dict(mode='whole_image', threshold=threshold, top_k=k,
                                      file=f'hypotheses/reclip/{name}_train_whole_image.json')
        # written once (configs/reclip/_base_/<dataset>.py), read by both stages
        assert Config.fromfile(f'{ROOT}/{reclip_config("reclip", name, "distill")}').hypotheses == cfg.hypotheses
        assert 'work_dir' not in cfg  # MMEngine's default: work_dirs/<config name>, unique per method and dataset
        student = Config.fromfile(f'{ROOT}/{reclip_config("reclip", name, "distill")}').model
        assert student.backbone.depth == 50 and student.backbone.strides == (1, 2, 1, 1)
        assert student.backbone.dilations == (1, 1, 2, 4) and student.backbone.contract_dilation
        assert student.decode_head.classifier == 'query_minus_reference' and student.decode_head.channels is None
        # 512: the ViT-B/16 teacher's embedding dimension, read from the teacher config
        assert student_head_from_teacher(student.decode_head, student.teacher)['channels'] == 512
        assert student.decode_head.aspp == dict(dilations=(6, 12, 18, 24), norm_cfg=dict(type='BN'),
                                                act_cfg=dict(type='ReLU'))
        assert student.teacher.config == reclip_config('reclip', name)
        assert student.teacher.norm_stats == 'batch'  # the release's teacher runs in train() mode
        assert student.ignore_label_pixels and 'LoadAnnotations' in [
            t.type for t in Config.fromfile(f'{ROOT}/{reclip_config("reclip", name, "distill")}').train_dataloader.dataset.pipeline]
        assert student.teacher.cfg_options == dict(model=dict(decode_head=dict(denoise_temperature=10.0,
                                                                                denoise_threshold=0.5)))


def _batch_norm_train(x, bn):
    """BatchNorm in training mode written out: per channel, mean and biased variance over batch and positions."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / torch.sqrt(var + bn.eps) * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)


def test_positional_bias_net_against_independent_computation():
    torch.manual_seed(0)
    net = PositionalBiasNet(in_channels=24, num_classes=7, hidden_channels=(16, 8)).train()
    net.bn1.weight.data.uniform_(0.5, 1.5)  # non-trivial affine parameters
    net.bn3.bias.data.uniform_(-0.2, 0.2)
    pos = torch.randn(1, 24, 6, 5)
    x = pos
    for i in (1, 2, 3):
        conv, bn = getattr(net, f'conv{i}'), getattr(net, f'bn{i}')
        x = F.conv2d(x, conv.weight, conv.bias, padding=1)
        x = torch.clamp(_batch_norm_train(x, bn), min=0)
    out = net(pos)
    torch.testing.assert_close(out, x, rtol=1e-4, atol=1e-5)
    assert out.shape == (1, 7, 6, 5) and (out >= 0).all()
    # release init: kaiming_normal_(fan_out, relu) -> std sqrt(2 / (9 * C_out)), BN gamma 1 / beta 0 at start
    big = PositionalBiasNet(in_channels=768, num_classes=150)
    for i, c_out in ((1, 512), (2, 256), (3, 150)):
        w = getattr(big, f'conv{i}').weight
        assert abs(float(w.std()) / (2 / (9 * c_out)) ** 0.5 - 1) < 0.05
        assert torch.equal(getattr(big, f'bn{i}').weight.data, torch.ones(w.shape[0]))


def test_dependent_head_output_is_query_minus_class_bias_minus_space_bias(device):
    model = tiny_model().eval().to(device)
    head = model.decode_head
    with torch.no_grad():
        head.bias_projector.bn3.running_mean.uniform_(-0.1, 0.1)  # eval: the net uses running statistics
        feats = model.backbone(torch.randn(2, 3, 48, 64, device=device))
        F_, P = feats.dense, feats.pos
        T, R = head.query_embeds, head.prompt_learner()
        S = head.bias_projector(P)
        B, D, h, w = F_.shape
        z = torch.empty(B, len(T), h, w, device=device)
        for b in range(B):  # per pixel: <F, T_q> - (<F, R> + S)
            flat = F_[b].reshape(D, -1).t()
            z[b] = ((flat @ T.t()) - (flat @ R.t())).t().reshape(-1, h, w) - S[0]
        torch.testing.assert_close(head(feats), z, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(head.query_logits(F_) - head.total_bias(F_, P), z, rtol=1e-4, atol=1e-5)
        # cached per grid in eval mode: a second pass gives the same values without recomputing R and S
        calls = []
        original = head.prompt_learner.forward
        head.prompt_learner.forward = lambda: calls.append(1) or original()
        head(feats), head(feats)
        assert len(calls) == 0  # the first pass above filled the cache
        head.prompt_learner.forward = original


def test_one_step_changes_exactly_the_reference_context_and_the_positional_net(device):
    model = tiny_model().train().to(device)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'decode_head.prompt_learner.context'} | {
        f'decode_head.bias_projector.{layer}{i}.{p}' for layer in ('conv', 'bn') for i in (1, 2, 3)
        for p in ('weight', 'bias')}
    # With Gumbel x1000 the soft sample is saturated (zero gradient) wherever the top class leads by more than
    # ~0.02; the untrained tiny CLIP's S (BN output, O(1)) leads everywhere. A small last-BN scale makes classes
    # compete, as real CLIP's close cosines do, so that every trainable part gets a gradient.
    with torch.no_grad():
        model.decode_head.bias_projector.bn3.weight.fill_(1e-3)
    clip_before = copy.deepcopy(model.backbone.clip_model.state_dict())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    inputs, samples = _batch()
    optim.backward(sum(model.loss(inputs.to(device), samples).values()))
    # every trainable tensor gets a gradient, except the conv biases right before a BN (BN removes a constant:
    # their gradient is zero up to rounding)
    before_bn = {f'decode_head.bias_projector.conv{i}.bias' for i in (1, 2, 3)}
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 1e-12}
    assert trainable - before_bn <= with_grad <= trainable, sorted(trainable - before_bn - with_grad)
    assert all(p.grad is None for p in model.backbone.clip_model.parameters())
    optim.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}
    assert {'decode_head.prompt_learner.context', 'decode_head.bias_projector.conv1.weight'} <= changed
    for k, v in model.backbone.clip_model.state_dict().items():
        assert torch.equal(clip_before[k], v), f'CLIP {k} changed'
    assert model.decode_head.gumbel.scale == 1000.0


def test_gumbel_at_scale_1000_is_the_hard_argmax_of_noisy_1000_z():
    from reclip_mmseg.models import GumbelMask
    gumbel = GumbelMask(scale=1000.0, seed=3)
    z = torch.randn(1, 4, 3, 3) * 0.01
    out = gumbel(z)
    gumbel.noise_state.copy_(torch.tensor([3, 0]))  # replay the same noise: -log(Exp(1)) is Gumbel(0, 1)
    noise = -torch.empty_like(z).exponential_(generator=gumbel._generator_for_this_call(z.device)).log()
    expected = F.one_hot((1000.0 * z + noise).argmax(1), 4).permute(0, 3, 1, 2).float()
    assert torch.equal(out.detach(), expected)


def test_whole_image_preprocessing_and_threshold_with_top_k_fallback():
    torchvision = pytest.importorskip('torchvision')
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF
    image = torch.rand(3, 150, 200)
    ours = preprocess_whole_image(image)
    ref = TF.center_crop(TF.resize(image, 224, interpolation=InterpolationMode.BICUBIC, antialias=True), 224)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(3, 1, 1)
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(3, 1, 1)
    torch.testing.assert_close(ours[0], (ref.clamp(0, 1) - mean) / std, rtol=1e-4, atol=1e-4)
    assert torchvision is not None and ours.shape == (1, 3, 224, 224)
    tall = preprocess_whole_image(torch.rand(3, 300, 100))
    assert tall.shape == (1, 3, 224, 224)
    cos = np.array([0.10, 0.25, 0.23, 0.229, 0.30])
    assert scores_to_labels(cos, 0.23, 2) == [1, 2, 4]  # >= threshold, inclusive
    assert scores_to_labels(cos, 0.31, 2) == [1, 4]  # none passes: the top 2, in class order
    assert scores_to_labels(cos, 0.31, 3) == [1, 2, 4]


def test_student_query_minus_reference_inherits_and_trains_only_the_student(tmp_path):
    rect = trained_rect_checkpoint(RECTIFY, str(tmp_path / 'rect.pth'), _batch, steps=1)
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.merge_from_dict(options_dict(
        ['model.backbone.depth=18', 'model.backbone.init_cfg=None', 'model.decode_head.in_channels=512',
         'model.teacher.clip.model_name=reclip-tiny', 'model.teacher.clip.pretrained=None',
         f'model.teacher.checkpoint={rect}']))
    student = MODELS.build(cfg.model).train()
    losses = student.loss(*_batch())
    assert set(losses) == {'decode.loss_mask', 'decode.loss_feat', 'decode.loss_text'}
    head, teacher_head = student.decode_head, student.teacher.decode_head
    assert teacher_head.denoise_temperature == 10.0 and teacher_head.denoise_threshold == 0.5  # pseudo labels
    assert head.mask_decoder is None and head.bias_projector is None
    torch.testing.assert_close(head.reference, teacher_head.prompt_learner().detach())
    torch.testing.assert_close(head.query_embeds, teacher_head.query_embeds)
    trainable = {n.split('.')[0] + '.' + n.split('.')[1] for n, p in student.named_parameters() if p.requires_grad}
    assert trainable == {'backbone.stem', 'backbone.layer1', 'backbone.layer2', 'backbone.layer3', 'backbone.layer4',
                         'decode_head.aspp'}
    with torch.no_grad():
        x = student.extract_feat(torch.randn(1, 3, 64, 64))
        g = F.normalize(head.aspp.forward_features(x), dim=1)[0]
        D, h, w = g.shape
        flat = g.reshape(D, -1).t()
        expected = (flat @ head.query_embeds.t() - flat @ head.reference.t()).t().reshape(-1, h, w)
        torch.testing.assert_close(head.forward(x)[0], expected, rtol=1e-4, atol=1e-5)
    # the branches are conv (no bias) + BN + ReLU
    branch = head.aspp.aspp[0]
    assert branch.conv.bias is None and type(branch.bn).__name__.endswith('BatchNorm2d') and branch.with_activation
    # a ReCLIP teacher cannot feed ReCLIP++'s student head
    cfg.model.decode_head.classifier = 'rmg'
    rmg = MODELS.build(cfg.model)
    with pytest.raises(ValueError, match="classifier='query_minus_reference'"):
        rmg.loss(*_batch())
    with pytest.raises(ValueError, match='rectification config'):
        build_teacher(f'{ROOT}/configs/reclip/reclip-distill_r50_20k_voc20.py', rect)


def test_reclip_end_to_end_gen_hypotheses_train_test_distill_test(voc_root, tmp_path):
    hyp = str(tmp_path / 'whole.json')
    data = [o for o in tiny_options(voc_root, iters=2, interval=2) if not o.startswith('model.')]
    tiny = [f'{k}={v}' for k, v in TINY.items()]
    proc = run_tool('tools/gen_hypotheses.py', RECTIFY, '--device', 'cpu', '--cfg-options', *tiny, *data,
                    f'hypotheses.file={hyp}')
    assert "'mode': 'whole_image'" in proc.stdout
    with open(hyp) as f:
        made = json.load(f)
    assert made['mode'] == 'whole_image' and made['threshold'] == 0.23 and made['top_k'] == 2 and made['complete']
    assert len(made['labels']) == 4 and all(len(v) >= 1 for v in made['labels'].values())
    rect_dir, student_dir = str(tmp_path / 'rect'), str(tmp_path / 'distill')
    run_tool('tools/train.py', RECTIFY, '--work-dir', rect_dir, '--cfg-options', *tiny, *data,
             f'hypotheses.file={hyp}')
    proc = run_tool('tools/test.py', RECTIFY, f'{rect_dir}/iter_2.pth', '--work-dir', str(tmp_path / 't1'),
                    '--cfg-options', *tiny, *data)
    test_metrics(tmp_path / 't1')
    # the README's offline distillation: the teacher's CLIP once, the student's dimensions follow it
    student = ['model.backbone.depth=18', 'model.backbone.init_cfg=None', 'model.decode_head.in_channels=512',
               'model.teacher.clip.model_name=reclip-tiny', 'model.teacher.clip.pretrained=None',
               f'model.teacher.checkpoint={rect_dir}/iter_2.pth']
    proc = run_tool('tools/train.py', DISTILL, '--work-dir', student_dir, '--cfg-options', *data, *student,
                    f'hypotheses.file={hyp}')
    assert any(k.endswith('loss_mask') and v > 0 for r in train_scalars(student_dir) for k, v in r.items())
    assert "channels=64, clip_width=128, clip_positions=197 from the teacher's CLIP 'reclip-tiny'" in proc.stdout + \
        proc.stderr  # said where the student's dimensions came from
    proc = run_tool('tools/test.py', DISTILL, f'{student_dir}/iter_2.pth', '--work-dir', str(tmp_path / 't2'),
                    '--cfg-options', *data, *student[:-1])  # the same options, no teacher checkpoint
    test_metrics(tmp_path / 't2')
    assert os.path.isfile(f'{student_dir}/iter_2.pth')
