"""``AuthorsCLIPSegmentor``: the prediction step of the SCLIP lineage's releases (SCLIP, ClearCLIP, NACLIP,
SC-CLIP, SFP, ResCLIP), for the presets of configs/training_free/authors/ (docs/training_free.md, "The authors'
protocols"). The unified protocol's ``CLIPSegmentor`` is unchanged."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..class_chunks import to_original
from .pamr import pamr as pamr_refine
from .segmentor import CLIPSegmentor

AUTHORS_PAMR = dict(enabled=False, iterations=10, dilations=(8, 16))  # the releases' defaults


def name_class_scores(logits: torch.Tensor, name_to_class: Optional[torch.Tensor], num_classes: int,
                      logit_scale: float) -> torch.Tensor:
    """(B, Q, H, W) per-name logits -> (B, C, H, W) class scores: ``softmax(logit_scale * logits)`` over all Q
    names, then each class's score is the largest probability among its names (no renormalisation)."""
    probs = torch.softmax(logit_scale * logits.float(), dim=1)
    if name_to_class is None or (name_to_class.numel() == num_classes
                                 and bool((name_to_class == torch.arange(num_classes, device=probs.device)).all())):
        return probs
    index = name_to_class.to(probs.device).view(1, -1, 1, 1).expand_as(probs)
    scores = probs.new_zeros((probs.shape[0], num_classes) + tuple(probs.shape[2:]))
    return scores.scatter_reduce(1, index, probs, reduce='amax', include_self=False)


def remove_small_classes(scores: torch.Tensor, area_thd: Optional[float]) -> torch.Tensor:
    """``area_thd`` (SCLIP, SC-CLIP, SFP on VOC-21): per image, n_c = the pixels whose argmax is class c; a class
    c >= 1 survives only if n_c > area_thd * sum_{c>=1} n_c (the foreground-predicted pixels, not the image);
    every other foreground class's score becomes 0 everywhere. Class 0 (background) is never removed."""
    if area_thd is None:
        return scores
    num_classes = scores.shape[1]
    counts = F.one_hot(scores.argmax(dim=1), num_classes).flatten(1, 2).sum(dim=1).to(scores.dtype)  # (B, C)
    fg = counts[:, 1:]
    keep = (fg > area_thd * fg.sum(dim=1, keepdim=True)).to(scores.dtype)
    out = scores.clone()
    out[:, 1:] *= keep[:, :, None, None]
    return out


def authors_labels(scores: torch.Tensor, prob_thd: float, background_index: int = 0) -> torch.Tensor:
    """argmax over classes; pixels whose top score is below ``prob_thd`` -> ``background_index``. (B, H, W)."""
    top, labels = scores.max(dim=1)
    if prob_thd > 0:
        labels = torch.where(top < prob_thd, torch.full_like(labels, background_index), labels)
    return labels


@MODELS.register_module()
class AuthorsCLIPSegmentor(CLIPSegmentor):
    """The releases' test step, in their order:

    1. logits, one channel per text query (``MaskCLIPHead(name_file=...)``: Q names; else one per class), from
       the whole image or from windows (``test_cfg``; windows averaged), bilinear to the network input's size;
    2. padding removed, flip undone, bilinear (align_corners=False) to the original image size;
    3. PAMR there (``pamr.enabled``; 10 iterations, dilations (8, 16) by default, as the releases), on the raw
       cosine logits, with the normalised input image resized (bilinear) to the original size;
    4. ``softmax(logit_scale * logits)`` over all Q names; a class's score = the max over its names;
    5. ``area_thd`` (None: off): ``remove_small_classes``;
    6. argmax; pixels whose top score is below ``prob_thd`` -> class ``background_index`` (0).

    ``pred_sem_seg`` is the result; ``seg_logits`` holds the class scores of step 5 when ``test_cfg.return_logits``
    is set. No test-time augmentation (the releases have none). ``logit_scale``, ``prob_thd`` and
    ``background_index`` are ``CLIPSegmentor``'s arguments; ``pamr`` defaults to the releases' (8, 16) dilations."""

    reads_name_queries = True

    def __init__(self, *args, pamr: Optional[dict] = None, area_thd: Optional[float] = None, **kwargs):
        pamr_cfg = dict(AUTHORS_PAMR)
        pamr_cfg.update(pamr or {})
        super().__init__(*args, pamr=pamr_cfg, **kwargs)
        if area_thd is not None and not 0.0 <= area_thd < 1.0:
            raise ValueError(f'AuthorsCLIPSegmentor.area_thd must be None or in [0, 1), got {area_thd}')
        self.area_thd = area_thd

    def name_logits(self, inputs: torch.Tensor, metas: List[dict]) -> torch.Tensor:
        """Step 1: (B, Q, H, W) logits at the input's size."""
        queries = self.decode_head.current_query_embeds().shape[0]
        if self.test_cfg.get('mode', 'whole') == 'slide':
            return self._slide_source(inputs, metas)(0, queries)
        logits = self._head_logits(inputs)
        return F.interpolate(logits.float(), size=inputs.shape[-2:], mode='bilinear', align_corners=self.align_corners)

    def _to_original(self, x: torch.Tensor, meta: dict) -> torch.Tensor:
        """Step 2 on one image's (1, K, H, W) tensor: MMSeg's ``postprocess_result`` geometry (padding cropped,
        flip undone, bilinear to the original), the same steps the class-chunked path takes."""
        return to_original(x.float(), meta, self.align_corners).unsqueeze(0)

    def predict(self, inputs: torch.Tensor, data_samples=None):
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(ori_shape=tuple(inputs.shape[2:]),
                                                        img_shape=tuple(inputs.shape[2:])))
                            for _ in range(inputs.shape[0])]
        metas = [s.metainfo for s in data_samples]
        logits = self.name_logits(inputs, metas)
        head = self.decode_head
        for i, sample in enumerate(data_samples):
            x = self._to_original(logits[i:i + 1], metas[i])
            if self.pamr_cfg['enabled']:
                image = self._to_original(inputs[i:i + 1], metas[i])
                x = pamr_refine(image, x, self.pamr_cfg['iterations'], self.pamr_cfg['dilations'])
            scores = name_class_scores(x, getattr(head, 'name_to_class', None), head.num_classes, self.logit_scale)
            scores = remove_small_classes(scores, self.area_thd)
            labels = authors_labels(scores, self.prob_thd, self.background_index)
            sample.set_data(dict(pred_sem_seg=PixelData(data=labels)))
            if self.test_cfg.get('return_logits', False):
                sample.set_data(dict(seg_logits=PixelData(data=scores[0])))
        return data_samples

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        raise NotImplementedError('AuthorsCLIPSegmentor predicts with its own steps (predict): the releases have '
                                  'no test-time augmentation, and its logits have one channel per name')
