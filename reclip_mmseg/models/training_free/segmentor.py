"""``CLIPSegmentor``: MMSeg's EncoderDecoder plus the training-free protocol's post-steps (docs/training_free.md §3):
optional PAMR on the logits, and the background rule of VOC-21 / Context-60 (``prob_thd``)."""
from typing import List, Optional

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

from ..text_head import check_same_clip
from .pamr import pamr as pamr_refine


@MODELS.register_module()
class CLIPSegmentor(EncoderDecoder):
    """EncoderDecoder whose test-time logits (after whole or slide inference, at the input's size) go through

    1. PAMR (``pamr.enabled``; off by default; 10 iterations, dilations 1, 2, 4, 8, 12, 24) with affinities from
       the network's input image;
    2. the background rule (``prob_thd > 0``): with ``p = softmax(logit_scale * logits)`` over classes, pixels
       whose top probability is below ``prob_thd`` are given to class ``background_index`` (for VOC-21 and
       Context-60, whose class 0 is the background).

    Everything else (training, data pre-processing, resizing to the original) is MMSeg's.
    """

    def __init__(self, *args, pamr: Optional[dict] = None, prob_thd: float = 0.0, logit_scale: float = 50.0,
                 background_index: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        check_same_clip(self)
        self.pamr_cfg = dict(enabled=False, iterations=10, dilations=(1, 2, 4, 8, 12, 24))
        unknown = set(pamr or {}) - set(self.pamr_cfg)
        if unknown:
            raise ValueError(f'CLIPSegmentor.pamr: unknown keys {sorted(unknown)}; known: {sorted(self.pamr_cfg)}')
        self.pamr_cfg.update(pamr or {})
        if not 0.0 <= prob_thd < 1.0:
            raise ValueError(f'CLIPSegmentor.prob_thd must be in [0, 1), got {prob_thd}')
        self.prob_thd = prob_thd
        self.logit_scale = logit_scale
        self.background_index = background_index

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        seg_logits = super().inference(inputs, batch_img_metas)
        if self.pamr_cfg['enabled']:
            seg_logits = pamr_refine(inputs, seg_logits, self.pamr_cfg['iterations'], self.pamr_cfg['dilations'])
        if self.prob_thd > 0:
            seg_logits = apply_background_threshold(seg_logits, self.prob_thd, self.logit_scale,
                                                    self.background_index)
        return seg_logits


def apply_background_threshold(logits: torch.Tensor, prob_thd: float, logit_scale: float,
                               background_index: int = 0) -> torch.Tensor:
    """Pixels whose top class probability ``softmax(logit_scale * logits)`` is below ``prob_thd`` become
    ``background_index`` (its logit is raised above every other class's there)."""
    top = torch.softmax(logit_scale * logits, dim=1).amax(dim=1)  # (B, H, W)
    out = logits.clone()
    lift = logits.amax(dim=1) + 1.0
    out[:, background_index] = torch.where(top < prob_thd, lift, logits[:, background_index])
    return out
