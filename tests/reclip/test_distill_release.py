"""Distillation as the releases run it (issue 23, items 2 and 4): ignored pixels get no pseudo label (ReCLIP++ and ReCLIP
students), ReCLIP's teacher normalises its PE net with batch statistics, ReCLIP's prompt denoising sends an image
whose classes are all suppressed to class 0. Each result is rebuilt by hand (plain torch) and compared."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import ROOT, options_dict, trained_rect_checkpoint

FAMILIES = {'reclip_pp': ('configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py', 'configs/reclip_pp/reclip-pp-distill_r101_20k_voc20.py'),
            'reclip': ('configs/reclip/reclip_vit-b16_20k_voc20.py', 'configs/reclip/reclip-distill_r50_20k_voc20.py')}
SIZE = 64


def _samples(labels):
    out = []
    for b, label in enumerate(labels):
        s = SegDataSample(gt_sem_seg=PixelData(data=label[None].long()))
        s.set_metainfo(dict(image_level_labels=[b, 5], img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE),
                            ori_shape=(SIZE, SIZE)))
        out.append(s)
    return out


def _labels(kind, B=2):
    g = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 20, (B, SIZE, SIZE), generator=g)
    if kind == 'all_255':
        labels[:] = 255
    elif kind == 'half_255':
        labels[:, :SIZE // 2] = 255
    return labels


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """A rectification checkpoint of each family (tiny CLIP) after two SGD steps, so nothing is at its init and
    the BatchNorms' stored statistics are not the batch statistics."""
    return {family: trained_rect_checkpoint(rect, str(tmp_path_factory.mktemp(family) / 'rect.pth'),
                                            lambda: (torch.randn(2, 3, SIZE, SIZE), _samples(_labels('none'))))
            for family, (rect, _) in FAMILIES.items()}


def student(family, checkpoint, *extra):
    cfg = Config.fromfile(f'{ROOT}/{FAMILIES[family][1]}')
    cfg.merge_from_dict(options_dict(
        ['model.backbone.depth=18', 'model.backbone.init_cfg=None', 'model.decode_head.in_channels=512',
         'model.teacher.clip.model_name=reclip-tiny', 'model.teacher.clip.pretrained=None',
         f'model.teacher.checkpoint={checkpoint}', *extra]))
    torch.manual_seed(0)
    return MODELS.build(cfg.model).train()


def _mask_loss_by_hand(model, inputs, labels):
    """MMSeg's default CE (mean over every pixel, ignored ones adding 0) of the student's upsampled logits against
    the teacher's labels, over the pixels whose label is not 255, written out."""
    with torch.no_grad():
        pseudo, _ = model.teacher_outputs(inputs)
    logits = model.decode_head.forward(model.extract_feat(inputs))
    up = F.interpolate(logits, size=inputs.shape[-2:], mode='bilinear', align_corners=False)
    nll = -torch.log_softmax(up, dim=1).gather(1, pseudo[:, None])[:, 0]
    return nll[labels != 255].sum() / nll.numel()


@pytest.mark.parametrize('family', list(FAMILIES))
def test_ignored_pixels_get_no_pseudo_label(checkpoints, family):
    model = student(family, checkpoints[family])
    inputs = torch.randn(2, 3, SIZE, SIZE)
    model.loss(inputs, _samples(_labels('none')))  # builds the teacher, inherits its head
    params = [p for n, p in model.named_parameters() if p.requires_grad]
    # every pixel ignored: the mask loss is 0 and sends no gradient (was 3.02 with pseudo labels everywhere)
    loss = model.loss(inputs, _samples(_labels('all_255')))['decode.loss_mask']
    assert float(loss) == 0.0
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    assert all(g is None or float(g.abs().max()) == 0.0 for g in grads)
    # half ignored: equal to the hand computation over the other half
    labels = _labels('half_255')
    loss = model.loss(inputs, _samples(labels))['decode.loss_mask']
    torch.testing.assert_close(loss, _mask_loss_by_hand(model, inputs, labels), rtol=1e-5, atol=1e-6)
    # the switch labels every pixel again
    model.ignore_label_pixels = False
    every = model.loss(inputs, _samples(labels))['decode.loss_mask']
    torch.testing.assert_close(every, _mask_loss_by_hand(model, inputs, torch.zeros_like(labels)), rtol=1e-5,
                               atol=1e-6)
    assert float(every) > float(loss)


def test_distillation_without_labels_in_the_pipeline_says_how_to_add_them(checkpoints):
    model = student('reclip_pp', checkpoints['reclip_pp'])
    samples = _samples(_labels('none'))
    for s in samples:
        del s.gt_sem_seg
    with pytest.raises(KeyError, match="LoadAnnotations.*distill_train_pipeline.*ignore_label_pixels=False"):
        model.loss(torch.randn(2, 3, SIZE, SIZE), samples)


def _space_bias_by_hand(net, pos):
    """ReCLIP's PE net with every BatchNorm normalising over the map's own positions (train mode), by hand."""
    x = pos
    for i in (1, 2, 3):
        conv, bn = getattr(net, f'conv{i}'), getattr(net, f'bn{i}')
        x = F.conv2d(x, conv.weight, conv.bias, padding=1)
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        x = torch.relu((x - mean) / torch.sqrt(var + bn.eps) * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1))
    return x


def test_reclip_teacher_normalises_its_pe_net_with_batch_statistics(checkpoints):
    batch = student('reclip', checkpoints['reclip'])
    running = student('reclip', checkpoints['reclip'], 'model.teacher.norm_stats=running')
    assert batch.teacher_cfg['norm_stats'] == 'batch'  # the ReCLIP distill configs' default (the release)
    inputs = torch.randn(2, 3, SIZE, SIZE)
    pseudo_batch, _ = batch.teacher_outputs(inputs)
    pseudo_running, _ = running.teacher_outputs(inputs)
    assert (pseudo_batch != pseudo_running).float().mean() > 0.05  # the two settings label differently
    head = batch.teacher.decode_head
    stored = {k: v.clone() for k, v in head.bias_projector.state_dict().items() if 'running' in k}
    pos = batch.teacher.backbone(inputs).pos
    with torch.no_grad():
        torch.testing.assert_close(head.bias_projector(pos), _space_bias_by_hand(head.bias_projector, pos))
        eval_mode = running.teacher.decode_head.bias_projector(pos)
    assert not torch.allclose(eval_mode, _space_bias_by_hand(head.bias_projector, pos), atol=1e-3)
    for k, v in head.bias_projector.state_dict().items():  # the stored statistics never move
        if k in stored:
            assert torch.equal(v, stored[k]), k


def test_reclip_prompt_denoising_sends_an_all_suppressed_image_to_class_0():
    from reclip_mmseg.models import prompt_denoise
    g = torch.Generator().manual_seed(0)
    z = 0.001 * torch.randn(1, 5, 4, 6, generator=g)  # flat: softmax(100 z) stays far below 0.5 everywhere
    z[0, 3] += 0.005  # class 3 the argmax everywhere
    assert (z.argmax(1) == 3).all()
    head_cfg = Config.fromfile(f'{ROOT}/configs/reclip/reclip_vit-b16_20k_voc20.py').model.decode_head
    out = prompt_denoise(z, head_cfg.denoise_threshold, head_cfg.denoise_temperature, head_cfg.denoise_fill)
    assert torch.equal(out, torch.full_like(z, -100.0))  # every class suppressed, set to -100 ...
    assert (out.argmax(1) == 0).all()  # ... so argmax is class 0 everywhere (the release)
    keep = prompt_denoise(z, head_cfg.denoise_threshold, head_cfg.denoise_temperature, None)  # the switch
    assert torch.equal(keep.argmax(1), z.argmax(1))
    # a confident class survives untouched; the others are set to -100
    z[0, 2, 1, 1] = 1.0
    out = prompt_denoise(z, 0.5, 100.0, -100.0)
    p = torch.softmax(100 * z, 1).amax(dim=(2, 3))[0]
    for c in range(5):
        assert torch.equal(out[0, c], z[0, c] if p[c] >= 0.5 else torch.full_like(z[0, c], -100.0))


def test_the_teachers_vit_runs_once_per_iteration_for_labels_and_features(checkpoints):
    """Issue 26, item 1: one teacher backbone pass per distillation iteration, its pseudo labels bit-identical to the
    teacher's own MMSeg ``predict`` and its features to a separate backbone pass (the two passes of before)."""
    model = student('reclip_pp', checkpoints['reclip_pp'])
    inputs = torch.randn(2, 3, SIZE, SIZE)
    samples = _samples(_labels('half_255'))
    model.loss(inputs, samples)  # builds the teacher
    teacher = model.teacher
    calls = []
    handle = teacher.backbone.register_forward_hook(lambda *a: calls.append(1))
    model.loss(inputs, samples)
    assert len(calls) == 1
    handle.remove()
    pseudo, feats = model.teacher_outputs(inputs)
    metas = [SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE),
                                         padding_size=[0, 0, 0, 0])) for _ in range(2)]
    with torch.no_grad():
        preds = teacher.predict(inputs, metas)
        dense = teacher.backbone(inputs).dense
    assert torch.equal(pseudo, torch.stack([p.pred_sem_seg.data[0] for p in preds]).long())
    assert torch.equal(feats, dense)
