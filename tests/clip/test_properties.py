"""Property-based: random image sizes, aspect ratios and class subsets through the pipeline and the head."""
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmengine.config import ConfigDict
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import TINY_CLIP
from reclip_mmseg.clip import VOCABULARIES
from reclip_mmseg.datasets import window_boxes

VOC = list(VOCABULARIES['voc20'])
_MODELS = {}


def model_for(names):
    key = tuple(names)
    if key not in _MODELS:
        _MODELS[key] = MODELS.build(ConfigDict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[122.771, 116.746, 104.094],
                                   std=[68.501, 66.632, 70.323], bgr_to_rgb=True, size_divisor=16,
                                   test_cfg=dict(size_divisor=16)),
            backbone=dict(type='CLIPViT', clip=TINY_CLIP, with_global=False),
            decode_head=dict(type='BiasRectifiedHead', class_names=list(names),
                             text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_CLIP)),
            test_cfg=dict(mode='whole')))
    return _MODELS[key]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(16, 120), w=st.integers(16, 120),
       names=st.lists(st.sampled_from(VOC), min_size=2, max_size=4, unique=True), train=st.booleans())
def test_head_handles_any_size_and_class_subset(h, w, names, train):
    model = model_for(sorted(names))
    C = len(names)
    img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
    sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), image_level_labels=[0]))
    data = model.data_preprocessor(dict(inputs=[img], data_samples=[sample]), training=train)
    if train:
        model.train()
        if h <= 16 and w <= 16:  # one feature position: BatchNorm cannot train on it - a clear error
            with pytest.raises(ValueError, match='single value per channel'):
                model.loss(data['inputs'], data['data_samples'])
            return
        losses = model.loss(data['inputs'], data['data_samples'])
        assert torch.isfinite(losses['decode.loss_rectify'])
        losses['decode.loss_rectify'].backward()
        assert model.decode_head.prompt_learner.context.grad is not None
        model.zero_grad()
    else:
        model.eval()
        with torch.no_grad():
            feats = model.backbone(data['inputs'])
            assert feats.dense.shape[-2:] == (-(-h // 16), -(-w // 16))
            pred = model.predict(data['inputs'], data['data_samples'])[0]
        seg = pred.pred_sem_seg.data
        assert seg.shape == (1, h, w) and int(seg.max()) < C and int(seg.min()) >= 0


def test_a_single_class_is_refused():
    with pytest.raises(ValueError, match='at least 2 class names'):
        model_for(['aeroplane'])


@settings(max_examples=60, deadline=None)
@given(h=st.integers(8, 400), w=st.integers(8, 400), side=st.integers(4, 64), stride=st.integers(1, 64))
def test_hypothesis_windows_cover_the_image_and_stay_inside(h, w, side, stride):
    if side > min(h, w):
        return
    boxes = window_boxes(h, w, side, stride, cover="full")
    covered = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and x1 - x0 == side and y1 - y0 == side
        covered[y0:y1, x0:x1] = True
    if stride <= side:
        assert covered.all()
