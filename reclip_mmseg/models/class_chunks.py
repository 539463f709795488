"""MMSeg's label map in bounded memory, a chunk of classes at a time (docs/speed.md, "Large vocabularies").

MMSeg's ``EncoderDecoder.predict`` resizes the head's C-channel logits to the network input (the decode head's
``predict_by_feat``; slide mode sums the windows' resized logits and divides by their count), and
``postprocess_result`` then crops the padding, undoes a flip, resizes to the original image and takes the argmax
over classes. Every step before the argmax treats each class channel alone: bilinear resizing, padding, window
sums, flips, and PAMR's propagation with affinities that depend on the image only. So the label map can be built
``chunk`` classes at a time, keeping a running max and argmax at the original resolution. Labels are identical
to MMSeg's (argmax's first-index rule for ties included, since a later chunk wins only when strictly larger) and
memory holds ``chunk`` channels at full resolution instead of C: at C = 847 one 512 x 683 image's logits take
1.2 GB at the original size alone.

Two steps couple the classes: MaskCLIP's prompt denoising (``CLIPTextHead.denoise_logits``) runs on the feature
grid before any resize, on all classes (small); the background rule (``prob_thd``) needs each pixel's softmax over
all classes at the input's resolution, which takes a first pass over the chunks (``softmax_top``).
"""
from typing import Callable, List, Optional, Sequence

import torch
from mmengine.structures import PixelData
from mmseg.models.utils import resize

# A chunk source: (lo, hi) -> logits of classes lo..hi-1, (B, hi - lo, H, W) at the network input's resolution.
ChunkSource = Callable[[int, int], torch.Tensor]

# 16 classes per chunk: a chunk's logits at the input and at the original size stay small enough for the
# allocator to reuse one buffer (no fresh pages to fault in per call, 22 MB at 512 x 688) and for the resizes to
# work in cache. On ViT-B/16 at C=171 (2-core CPU) end to end was 1.03x the backbone with 16, 1.08x with 64, and
# 1.08x for MMSeg's all-classes path (docs/speed.md). Any chunk size gives the same labels (tested with 1, 7, 50).
DEFAULT_CLASS_CHUNK = 16


def chunk_bounds(num_classes: int, chunk: int) -> List[tuple]:
    return [(lo, min(lo + chunk, num_classes)) for lo in range(0, num_classes, chunk)]


def padding_of(meta: dict) -> Sequence[int]:
    """(left, right, top, bottom) padding the pipeline added, as MMSeg's ``postprocess_result`` reads it."""
    return meta['img_padding_size'] if 'img_padding_size' in meta else meta.get('padding_size', [0] * 4)


def to_original(logits: torch.Tensor, meta: dict, align_corners: bool) -> torch.Tensor:
    """``logits`` (1, c, H, W) of one image at the input's size -> (c, H0, W0) at ``meta['ori_shape']``: padding
    cropped, flip undone, bilinear resize, the steps of MMSeg's ``postprocess_result`` in its order."""
    H, W = logits.shape[-2:]
    left, right, top, bottom = padding_of(meta)
    logits = logits[:, :, top:H - bottom, left:W - right]
    if meta.get('flip', None):
        direction = meta.get('flip_direction', None)
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"flip_direction must be 'horizontal' or 'vertical', got {direction!r}")
        logits = logits.flip(dims=(3,) if direction == 'horizontal' else (2,))
    return resize(logits, size=meta['ori_shape'], mode='bilinear', align_corners=align_corners,
                  warning=False).squeeze(0)


@torch.no_grad()
def chunked_label_maps(source: ChunkSource, num_classes: int, batch_img_metas: List[dict], chunk: int,
                       align_corners: bool = False) -> List[torch.Tensor]:
    """Each image's label map (1, H0, W0), int64, equal to MMSeg's ``postprocess_result`` argmax of the whole
    logits, from ``source`` one chunk of classes at a time."""
    best: List[Optional[torch.Tensor]] = [None] * len(batch_img_metas)
    labels: List[Optional[torch.Tensor]] = [None] * len(batch_img_metas)
    for lo, hi in chunk_bounds(num_classes, chunk):
        logits = source(lo, hi)
        for i, meta in enumerate(batch_img_metas):
            x = to_original(logits[i:i + 1], meta, align_corners)  # (c, H0, W0)
            index = x.argmax(dim=0, keepdim=True)  # first index of the chunk's max
            value = x.gather(0, index)
            if best[i] is None:
                best[i], labels[i] = value, index + lo
            else:  # strictly larger: on a tie the earlier class keeps the pixel, as one argmax over all would
                wins = value > best[i]
                best[i] = torch.where(wins, value, best[i])
                labels[i] = torch.where(wins, index + lo, labels[i])
        del logits
    return labels


@torch.no_grad()
def softmax_top(source: ChunkSource, num_classes: int, chunk: int, scale: float):
    """Per pixel, over all classes: the largest logit (B, H, W) and the top probability of
    ``softmax(scale · logits)`` (B, H, W), from one pass over the chunks (running max and rescaled sum of
    exponentials). Equal to ``softmax(...).amax(1)`` up to float rounding (the sum's order differs)."""
    top_logit = total = None
    for lo, hi in chunk_bounds(num_classes, chunk):
        x = source(lo, hi).float()
        m = x.amax(dim=1)
        if top_logit is None:
            top_logit = m
            total = torch.exp(scale * (x - m.unsqueeze(1))).sum(dim=1)
        else:
            new = torch.maximum(top_logit, m)
            total = total * torch.exp(scale * (top_logit - new)) + \
                torch.exp(scale * (x - new.unsqueeze(1))).sum(dim=1)
            top_logit = new
    return top_logit, 1.0 / total


def set_predictions(data_samples, labels: List[torch.Tensor]):
    for sample, label in zip(data_samples, labels):
        sample.set_data({'pred_sem_seg': PixelData(**{'data': label})})
    return data_samples
