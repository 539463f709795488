"""ReCLIP++ distillation stage: DeepLab V2 student inheriting the frozen rectified head (issue 6)."""
import copy
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmseg.registry import MODELS
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from conftest import (ROOT, TINY_CLIP, options_dict, run_tool, test_metrics, tiny_options, train_scalars, trained_rect_checkpoint)
from reclip_mmseg.models import build_teacher

RECTIFY = 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'
DISTILL = 'configs/reclip_pp/reclip-pp-distill_r101_20k_voc20.py'
TEACHER_TINY = {f'{w}.{k}': v for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
                for k, v in TINY_CLIP.items()}


@pytest.fixture(scope='module')
def rect_checkpoint(tmp_path_factory):
    """A rectification checkpoint of the tiny model after a few SGD steps (so nothing is at its init)."""
    return trained_rect_checkpoint(RECTIFY, str(tmp_path_factory.mktemp('rect') / 'iter_2.pth'), _batch)


def student_options(checkpoint):
    """The README's offline distillation options (the teacher's CLIP once; the student's dimensions follow it),
    with a ResNet-18 student for speed."""
    return ['model.backbone.depth=18', 'model.backbone.init_cfg=None', 'model.decode_head.in_channels=512',
            'model.teacher.clip.model_name=reclip-tiny', 'model.teacher.clip.pretrained=None',
            f'model.teacher.checkpoint={checkpoint}']


def build_student(checkpoint):
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.merge_from_dict(options_dict(student_options(checkpoint)))
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def _batch(B=2, size=64):
    inputs = torch.randn(B, 3, size, size)
    samples = []
    for b in range(B):
        label = torch.randint(0, 20, (1, size, size))
        label[:, :size // 4] = 255  # ignored rows: no pseudo label there (the distillation reads the label map)
        s = SegDataSample(gt_sem_seg=PixelData(data=label))
        s.set_metainfo(dict(image_level_labels=[b, 5], img_shape=(size, size), pad_shape=(size, size),
                            ori_shape=(size, size)))
        samples.append(s)
    return inputs, samples


def test_deeplab_v2_student_layout():
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    assert cfg.model.backbone.depth == 101 and cfg.model.backbone.dilations == (1, 1, 2, 4)
    assert cfg.model.backbone.strides == (1, 2, 1, 1)
    assert cfg.model.backbone.init_cfg.checkpoint == 'open-mmlab://resnet101_v1c'
    assert cfg.model.decode_head.aspp.dilations == (6, 12, 18, 24)
    # the ASPP's 512 outputs, CLIP's width 768 and 197 positions are the ViT-B/16 teacher's (docs/reclip_pp.md §8): left None
    # in the config, read from the teacher config's CLIP (no weights needed: the teacher is built at training)
    assert (cfg.model.decode_head.channels, cfg.model.decode_head.clip_width) == (None, None)
    cfg.model.backbone.update(depth=18, init_cfg=None)
    cfg.model.teacher.config = 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'
    head = MODELS.build(cfg.model).decode_head
    assert (head.channels, head.clip_pos_embed.shape, head.query_embeds.shape) == (512, (197, 768), (20, 512))
    assert head.aspp.aspp[0].out_channels == 512 and head.bias_projector.weight.shape == (512, 768, 1, 1)
    weights = [cfg.model.decode_head[k].loss_weight for k in ('loss_decode', 'loss_feat', 'loss_text')]
    assert weights == [1.0, 0.5, 0.5]
    # release: ImageNet mean/std for the student, the same tensor for the CLIP teacher (docs/reclip_pp.md §8)
    assert cfg.model.data_preprocessor.mean == [123.675, 116.28, 103.53]
    assert cfg.model.data_preprocessor.std == [58.395, 57.12, 57.375]
    head = MODELS.build(dict(type='DeepLabV2Head', in_channels=8, channels=4, num_classes=3))
    x = torch.randn(1, 8, 9, 9)
    expected = sum(torch.nn.functional.conv2d(x, b.weight, b.bias, padding=d, dilation=d)
                   for b, d in zip(head.aspp, (6, 12, 18, 24)))
    torch.testing.assert_close(head.forward_features([x]), expected)


def test_one_step_trains_the_student_only(rect_checkpoint):
    model = build_student(rect_checkpoint).train()
    inputs, samples = _batch()
    model.loss(inputs, samples)  # first step: builds the teacher and inherits its head
    teacher = model.teacher
    teacher_before = copy.deepcopy(teacher.state_dict())
    clip_before = copy.deepcopy(teacher.backbone.clip_model.state_dict())
    head = model.decode_head
    inherited_before = {k: v.clone() for k, v in head.state_dict().items()
                        if k.startswith(('mask_decoder', 'bias_projector', 'query_embeds', 'reference', 'clip_pos'))}
    assert torch.equal(head.query_embeds, teacher.decode_head.query_embeds)
    torch.testing.assert_close(head.reference, teacher.decode_head.prompt_learner())
    student_before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optim = OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9))
    optim.update_params(sum(model.loss(inputs, samples).values()))
    changed = {n for n, p in model.named_parameters() if p.requires_grad and not torch.equal(student_before[n], p)}
    assert any(n.startswith('backbone.') for n in changed) and any(n.startswith('decode_head.aspp') for n in changed)
    assert all(n.startswith(('backbone.', 'decode_head.aspp')) for n in student_before)  # nothing else trains
    for k, v in head.state_dict().items():
        if k in inherited_before:
            assert torch.equal(inherited_before[k], v), k
    for k, v in teacher.state_dict().items():
        assert torch.equal(teacher_before[k], v), k
    for k, v in teacher.backbone.clip_model.state_dict().items():
        assert torch.equal(clip_before[k], v), k
    state = model.state_dict()
    assert not any('teacher' in k or 'clip_model' in k for k in state)
    assert 'decode_head.mask_decoder.conv.weight' in state and 'decode_head.query_embeds' in state


@pytest.mark.parametrize('loss_name', ['loss_mask', 'loss_feat', 'loss_text'])
def test_each_loss_alone_reaches_the_student_backbone(rect_checkpoint, loss_name):
    model = build_student(rect_checkpoint).train()
    losses = model.loss(*_batch())
    assert set(losses) == {'decode.loss_mask', 'decode.loss_feat', 'decode.loss_text'}
    params = [p for n, p in model.named_parameters() if n.startswith('backbone.') and p.requires_grad]
    grads = torch.autograd.grad(losses[f'decode.{loss_name}'], params, allow_unused=True)
    assert sum(g.abs().sum() for g in grads if g is not None) > 0


@pytest.mark.parametrize('normalisation', ['release_imagenet', 'clip'])
def test_pseudo_labels_equal_the_teachers_own_predictions(rect_checkpoint, normalisation):
    model = build_student(rect_checkpoint)
    if normalisation == 'clip':  # the switch: CLIP's mean/std for student and teacher
        model.data_preprocessor.mean.copy_(torch.tensor([122.771, 116.746, 104.094]).view(3, 1, 1))
        model.data_preprocessor.std.copy_(torch.tensor([68.501, 66.632, 70.323]).view(3, 1, 1))
    crops = [torch.randint(0, 256, (3, 80, 80), dtype=torch.uint8) for _ in range(2)]  # augmented crops, BGR
    metas = [SegDataSample(metainfo=dict(img_shape=(80, 80), pad_shape=(80, 80), ori_shape=(80, 80)))
             for _ in range(2)]
    batch = model.data_preprocessor(dict(inputs=crops, data_samples=copy.deepcopy(metas)), training=True)
    pseudo, feats = model.teacher_outputs(batch['inputs'])
    teacher = build_teacher(f'{ROOT}/{RECTIFY}', rect_checkpoint, TEACHER_TINY)
    assert teacher is not model.teacher
    with torch.no_grad():
        if normalisation == 'clip':  # the teacher's own test path, from the raw crops (its CLIP normalisation)
            preds = teacher.test_step(dict(inputs=crops, data_samples=metas))
        else:  # release: the ImageNet-normalised crop is fed to the teacher as it is
            imagenet = (torch.stack(crops)[:, [2, 1, 0]].float()
                        - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)) \
                / torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
            preds = teacher.predict(imagenet, metas)
    for b in range(2):
        assert torch.equal(pseudo[b], preds[b].pred_sem_seg.data[0])
    assert teacher.decode_head.denoise_threshold == 1.0  # VOC prompt denoising is applied to the pseudo labels
    assert feats.shape == (2, 64, 5, 5)


def test_wrong_kind_of_checkpoint_is_refused_with_what_was_expected(rect_checkpoint, tmp_path):
    student = build_student(rect_checkpoint)
    student.loss(*_batch())
    path = str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=student.state_dict()), path)
    with pytest.raises(ValueError, match='distillation \\(student\\) checkpoint.*expected the rectification'):
        build_teacher(f'{ROOT}/{RECTIFY}', path, TEACHER_TINY)
    with pytest.raises(FileNotFoundError, match='train the rectification stage first'):
        build_teacher(f'{ROOT}/{RECTIFY}', str(tmp_path / 'missing.pth'), TEACHER_TINY)


def test_rectify_distill_test_end_to_end_through_the_tools(voc_root, voc_hypotheses, tmp_path):
    rect_dir, student_dir = str(tmp_path / 'rect'), str(tmp_path / 'distill')
    run_tool('tools/train.py', RECTIFY, '--work-dir', rect_dir, '--cfg-options',
             *tiny_options(voc_root, voc_hypotheses, iters=2, interval=2))
    data = [o for o in tiny_options(voc_root, voc_hypotheses, iters=2, interval=2) if not o.startswith('model.')]
    run_tool('tools/train.py', DISTILL, '--work-dir', student_dir, '--cfg-options', *data, 'train_dataloader.batch_size=2',
                    *student_options(f'{rect_dir}/iter_2.pth'))
    logged = [v for r in train_scalars(student_dir) for k, v in r.items() if k.endswith('loss_text')]
    assert logged and all(math.isfinite(v) for v in logged), logged  # the text-guided term was trained
    # testing the student needs no teacher: point the teacher at nothing
    opts = [o for o in student_options('/nonexistent.pth')]
    run_tool('tools/test.py', DISTILL, f'{student_dir}/iter_2.pth', '--work-dir', str(tmp_path / 'test'),
                    '--cfg-options', *[o for o in tiny_options(voc_root) if not o.startswith('model.')], *opts)
    test_metrics(tmp_path / 'test')
    state = torch.load(f'{student_dir}/iter_2.pth', map_location='cpu', weights_only=True)['state_dict']
    assert not any('teacher' in k or 'clip' in k.replace('clip_pos_embed', '') for k in state)
    assert {k.split('.')[0] for k in state} == {'backbone', 'decode_head'}


def test_student_without_its_imagenet_checkpoint_is_a_clear_error(rect_checkpoint):
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.merge_from_dict(options_dict(student_options(rect_checkpoint)))
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint='/nonexistent/resnet101_v1c.pth')
    model = MODELS.build(cfg.model)
    with pytest.raises(RuntimeError, match='model.backbone.init_cfg.checkpoint=/path/resnet101_v1c.pth'):
        model.init_weights()


def test_distillation_takes_a_teacher_rectified_on_a_training_free_feature(rect_checkpoint):
    """model.teacher.config pointing at a rectify-on-ClearCLIP config: the teacher runs that dense mode and the
    pseudo labels are its own predictions (the same head weights serve any dense mode)."""
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.merge_from_dict(options_dict(student_options(rect_checkpoint)
                                     + [f'model.teacher.config={ROOT}/configs/reclip_pp/reclip-pp-clearclip_vit-b16_20k_voc20.py']))
    model = MODELS.build(cfg.model)
    crops = torch.randn(2, 3, 64, 64)
    pseudo, _ = model.teacher_outputs(crops)
    teacher = model.teacher
    assert teacher.backbone.dense_mode == 'clearclip'
    metas = [SegDataSample(metainfo=dict(img_shape=(64, 64), pad_shape=(64, 64), ori_shape=(64, 64)))
             for _ in range(2)]
    with torch.no_grad():
        preds = teacher.predict(crops, metas)
    for b in range(2):
        assert torch.equal(pseudo[b], preds[b].pred_sem_seg.data[0])


def test_student_dimensions_follow_any_teacher_clip_given_once(rect_checkpoint, tmp_path):
    """Issue 18.15: a tiny (or any non-ViT-B/16) teacher CLIP is one option, model.teacher.clip, and the student's
    channels / clip_width / clip_positions come from it (before: three undocumented settings and a raw torch
    size mismatch)."""
    import open_clip
    student = build_student(rect_checkpoint)
    # independent: the tiny CLIP's own tensors
    tiny = open_clip.create_model('reclip-tiny', pretrained=None)
    head = student.decode_head
    assert head.query_embeds.shape[1] == tiny.text_projection.shape[1] == head.channels
    assert tuple(head.clip_pos_embed.shape) == tuple(tiny.visual.positional_embedding.shape)
    assert head.aspp.aspp[0].out_channels == tiny.text_projection.shape[1]
    student.train().loss(*_batch())  # builds the teacher with the tiny CLIP everywhere, inherits, trains
    teacher = student.teacher
    assert teacher.backbone.clip_cfg['model_name'] == 'reclip-tiny'
    assert teacher.decode_head.text_encoder.clip_cfg['model_name'] == 'reclip-tiny'
    torch.testing.assert_close(head.clip_pos_embed, teacher.backbone.clip_model.visual.positional_embedding)
    # another architecture: dimensions from its open_clip config, no weights read
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.merge_from_dict(options_dict(['model.backbone.depth=18', 'model.backbone.init_cfg=None',
                                      'model.teacher.clip.model_name=ViT-L-14-336']))
    head = MODELS.build(cfg.model).decode_head
    assert (head.channels, tuple(head.clip_pos_embed.shape)) == (768, ((336 // 14) ** 2 + 1, 1024))


def test_student_dimensions_that_contradict_the_teacher_are_named(rect_checkpoint):
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.merge_from_dict(options_dict(student_options(rect_checkpoint) + ['model.decode_head.channels=32']))
    with pytest.raises(ValueError, match='channels=32.*leave model.decode_head.channels=None'):
        MODELS.build(cfg.model).train().loss(*_batch())
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.merge_from_dict(options_dict(student_options(rect_checkpoint) + ['model.decode_head.clip_width=768']))
    with pytest.raises(ValueError, match='clip_positions/clip_width'):
        MODELS.build(cfg.model).train().loss(*_batch())
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.merge_from_dict(options_dict(student_options(rect_checkpoint) + ['model.teacher.clip.model_name=RN50']))
    with pytest.raises(ValueError, match="teacher config .*'RN50' is not a ViT CLIP"):
        MODELS.build(cfg.model)
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.model.teacher.clip_name = 'reclip-tiny'
    with pytest.raises(ValueError, match=r"model.teacher has unknown keys \['clip_name'\]"):
        MODELS.build(cfg.model)
    cfg = Config.fromfile(f'{ROOT}/{DISTILL}')
    cfg.model.teacher.config = None
    with pytest.raises(ValueError, match='model.teacher.config is not set'):
        MODELS.build(cfg.model)


def test_reclip_pp_distillation_configs_use_the_release_schedule():
    """docs/reclip_pp.md §8: the release distils at batch 16 with SGD lr 0.01 (momentum 0.9, weight decay 5e-4), poly,
    on every dataset (Cityscapes' rectification batch 16 / lr 0.16 is not the distillation's)."""
    import glob
    configs = sorted(glob.glob(f'{ROOT}/configs/reclip_pp/reclip-pp-distill_r101_*.py'))
    assert len(configs) == 5
    for path in configs:
        cfg = Config.fromfile(path)
        assert cfg.train_dataloader.batch_size == 16, path
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.01, 0.9, 5e-4), path
        assert cfg.param_scheduler[0].type == 'PolyLR' and cfg.param_scheduler[0].power == 0.9, path



def test_feature_loss_on_the_students_features_is_the_formula_as_written(rect_checkpoint):
    """The distiller's feature-guided L1 (default impl='separable') against the same loss with both feature maps
    resized to the image by F.interpolate and F.l1_loss, on the real student and teacher features: the value and
    the gradient reaching the student's ASPP and backbone."""
    model = build_student(rect_checkpoint).train()
    inputs, samples = _batch()
    model.loss(inputs, samples)  # builds the teacher
    head = model.decode_head
    assert head.loss_feat.impl == 'separable'
    _, teacher_feats = model.teacher_outputs(inputs)
    params = [p for n, p in model.named_parameters() if p.requires_grad]
    feats = head.features(model.extract_feat(inputs))
    ours = head.loss_feat(feats, teacher_feats, inputs.shape[-2:])
    ours_grads = torch.autograd.grad(ours, params, retain_graph=True, allow_unused=True)
    written = head.loss_feat.loss_weight * torch.nn.functional.l1_loss(
        torch.nn.functional.interpolate(feats, size=inputs.shape[-2:], mode='bilinear', align_corners=False),
        torch.nn.functional.interpolate(teacher_feats, size=inputs.shape[-2:], mode='bilinear', align_corners=False))
    written_grads = torch.autograd.grad(written, params, allow_unused=True)
    torch.testing.assert_close(ours, written, rtol=1e-5, atol=0)
    reached = 0
    for a, b in zip(ours_grads, written_grads):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-6 * float(b.abs().max()))
            reached += 1
    assert reached == len([n for n, p in model.named_parameters()
                           if p.requires_grad and n.startswith(('backbone.', 'decode_head.aspp'))])
