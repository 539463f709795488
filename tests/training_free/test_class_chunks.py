"""Class-chunked label maps (issue 26, item 3; reclip_mmseg/models/class_chunks.py): CLIPSegmentor's predict
gives the label maps of MMSeg's own ``EncoderDecoder.predict`` + ``postprocess_result`` (the upstream code, run
here on the same model) for C = 3, 171 and 847, odd sizes, with and without padding, flips, whole and slide
inference, PAMR and the background rule, while no tensor at the input's or the original's resolution holds more
than ``class_chunk`` classes."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import TINY_CLIP
from reclip_mmseg.models.class_chunks import DEFAULT_CLASS_CHUNK

MEAN, STD = [122.7709383, 116.7460125, 104.09373615], [68.5005327, 66.6321579, 70.32316305]
_MODELS = {}


def tiny_segmentor(C, mode='whole', pamr=False, prob_thd=0.0, chunk=DEFAULT_CLASS_CHUNK, **test_cfg):
    """A CLIPSegmentor with the MaskCLIP head on the tiny CLIP, C classes (one template: fast to encode)."""
    key = C
    if key not in _MODELS:
        _MODELS[key] = MODELS.build(dict(
            type='CLIPSegmentor',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=MEAN, std=STD, bgr_to_rgb=True, size_divisor=16),
            backbone=dict(type='CLIPViT', clip=TINY_CLIP, with_global=False, dense_mode='maskclip'),
            decode_head=dict(type='MaskCLIPHead', class_names=[f'thing number {i}' for i in range(C)],
                             text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP,
                                               templates=['a photo of a {}.'])),
            test_cfg=ConfigDict(mode='whole'))).eval()
    model = _MODELS[key]
    model.pamr_cfg['enabled'] = pamr
    model.prob_thd = prob_thd
    model.test_cfg = ConfigDict(mode=mode, crop_size=(64, 64), stride=(48, 48), class_chunk=chunk, **test_cfg)
    return model


def samples(pad, flips, ori=(127, 171)):
    """Metas as MMSeg's test pipeline and SegDataPreProcessor make them: a 101 x 133 resized image, padded to
    112 x 144 (or not: the input is then 101 x 133), one flip setting per image."""
    h, w = 101, 133
    ph, pw = (112, 144) if pad else (h, w)
    out = []
    for flip in flips:
        meta = dict(img_shape=(h, w), pad_shape=(ph, pw), ori_shape=ori, padding_size=[0, pw - w, 0, ph - h])
        if flip:
            meta.update(flip=True, flip_direction=flip)
        out.append(SegDataSample(metainfo=meta))
    return out, torch.randn(len(flips), 3, ph, pw)


def label_maps(model, inputs, data_samples, mmseg=False):
    with torch.no_grad():
        out = (EncoderDecoder.predict if mmseg else type(model).predict)(model, inputs, copy.deepcopy(data_samples))
    return [s.pred_sem_seg.data for s in out], out


@pytest.mark.parametrize('C', [3, 171, 847])
@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_label_maps_equal_mmsegs_postprocessing(C, mode):
    torch.manual_seed(C)
    model = tiny_segmentor(C, mode)
    cases = [(True, [None, 'horizontal']), (False, ['vertical'])]
    for pad, flips in cases[:1] if C == 847 and mode == 'slide' else cases:  # (time: each case is seen elsewhere)
        data_samples, inputs = samples(pad, flips)
        want, _ = label_maps(model, inputs, data_samples, mmseg=True)
        got, out = label_maps(model, inputs, data_samples)
        for a, b in zip(want, got):
            assert a.dtype == b.dtype == torch.int64 and a.shape == b.shape == (1, 127, 171)
            assert torch.equal(a, b), f'C={C} {mode} pad={pad}: {int((a != b).sum())} pixels differ from MMSeg'
        assert 'seg_logits' not in out[0], 'C-channel logits kept without return_logits'
        if C > 3:
            assert len(torch.cat(want).unique()) > 20  # the argmax is exercised over many classes, not one


@pytest.mark.parametrize('chunk', [1, 7, 50])
def test_any_chunk_size_gives_the_same_labels(chunk):
    model = tiny_segmentor(171, 'slide', chunk=chunk)
    data_samples, inputs = samples(True, [None, 'horizontal'])
    want, _ = label_maps(model, inputs, data_samples, mmseg=True)
    got, _ = label_maps(model, inputs, data_samples)
    assert all(torch.equal(a, b) for a, b in zip(want, got))


def test_ties_go_to_the_first_class_across_chunks(monkeypatch):
    """Equal logits in two chunks: argmax over all classes picks the lower index; the running argmax must too."""
    from reclip_mmseg.models.class_chunks import chunked_label_maps
    logits = torch.zeros(1, 10, 5, 6)
    logits[:, 7] = 1.0
    logits[:, 2] = 1.0  # a tie between class 2 (chunk 0..3) and class 7 (chunk 6..8)
    logits[0, 9, 0, 0] = 2.0
    meta = dict(ori_shape=(5, 6), img_shape=(5, 6))
    labels = chunked_label_maps(lambda lo, hi: logits[:, lo:hi], 10, [meta], chunk=3)[0]
    assert labels[0, 0, 0] == 9 and (labels[0].flatten()[1:] == 2).all()


@pytest.mark.parametrize('C', [21, 171])
def test_pamr_and_background_rule_equal_the_whole_tensor_path(C):
    """PAMR refines each class with shared affinities; the background rule needs the softmax over all classes
    (C=21: one chunk, as every background dataset; C=171: a first pass over eleven chunks). The threshold is the median top probability,
    so about half of the pixels are given to the background."""
    torch.manual_seed(1)
    data_samples, inputs = samples(True, [None, 'horizontal'])
    model = tiny_segmentor(C, 'slide')
    with torch.no_grad():
        plain = EncoderDecoder.inference(model, inputs, [s.metainfo for s in data_samples])
        model.prob_thd = float(torch.softmax(50.0 * plain, dim=1).amax(dim=1).median())
    model.pamr_cfg.update(enabled=True, dilations=(1, 2), iterations=3)
    try:
        want, _ = label_maps(model, inputs, data_samples, mmseg=True)
        got, _ = label_maps(model, inputs, data_samples)
    finally:
        model.pamr_cfg.update(enabled=False, dilations=(1, 2, 4, 8, 12, 24), iterations=10)
    for a, b in zip(want, got):
        assert torch.equal(a, b), f'{int((a != b).sum())} pixels differ'
    share = float(sum((a == 0).float().mean() for a in want)) / len(want)
    assert 0.2 < share < 0.9, share


def test_return_logits_keeps_mmsegs_output():
    model = tiny_segmentor(171, 'whole', return_logits=True)
    data_samples, inputs = samples(True, [None, 'horizontal'])
    _, want = label_maps(model, inputs, data_samples, mmseg=True)
    _, got = label_maps(model, inputs, data_samples)
    for a, b in zip(want, got):
        assert torch.equal(a.seg_logits.data, b.seg_logits.data) and a.seg_logits.data.shape == (171, 127, 171)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


@pytest.mark.parametrize('mode', ['whole', 'slide'])
def test_no_full_resolution_tensor_holds_more_than_a_chunk(mode, monkeypatch):
    """Every resize of logits to the input's or the original's size has at most ``class_chunk`` channels (C=847,
    the default chunk); MMSeg's path, for contrast, resizes all 847 at once."""
    seen = []
    interpolate = F.interpolate

    def spy(x, *args, **kwargs):
        out = interpolate(x, *args, **kwargs)
        if out.shape[-2] >= 64 and out.shape[1] > 3:  # logits at a window's, the input's or the original's size
            seen.append(out.shape[1])
        return out
    monkeypatch.setattr(F, 'interpolate', spy)
    model = tiny_segmentor(847, mode)
    data_samples, inputs = samples(True, [None])
    label_maps(model, inputs, data_samples)
    assert seen and max(seen) == DEFAULT_CLASS_CHUNK, sorted(set(seen))
    seen.clear()
    label_maps(model, inputs, data_samples, mmseg=True)
    assert max(seen) == 847
