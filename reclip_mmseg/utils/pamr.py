"""PAMR, pixel-adaptive mask refinement (Araslanov & Roth, CVPR 2020), as training-free segmenters use it.

For each pixel i and each of its 8 neighbours j on 3x3 grids at several dilations (image borders replicated),
the affinity is ``k(i, j) = -|I_i - I_j| / (lambda * sigma_i)`` per colour channel, averaged over channels, where
``sigma_i`` is the (unbiased) standard deviation of the intensities over all 3x3 neighbourhoods of i (centre
included, every dilation together); a softmax over all neighbours of i gives the weights ``a_ij``. The masks are
then refined ``iterations`` times: ``m_i <- sum_j a_ij m_j``. Written from the paper's definition.
"""
from typing import Sequence

import torch
import torch.nn.functional as F

_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _shifted(t: torch.Tensor, dilations: Sequence[int], with_centre: bool = False):
    """Neighbour views of ``t`` (B, C, H, W): one (B, C, H, W) tensor per (dilation, offset), borders replicated."""
    H, W = t.shape[-2:]
    offsets = _OFFSETS + ([(0, 0)] if with_centre else [])
    for d in dilations:
        padded = F.pad(t, (d, d, d, d), mode='replicate')
        for dy, dx in offsets:
            yield padded[..., d + dy * d:d + dy * d + H, d + dx * d:d + dx * d + W]


def pamr_affinity(image: torch.Tensor, size, dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
                  std_scale: float = 0.1) -> torch.Tensor:
    """The weights ``a_ij`` (B, 8·len(dilations), H, W) from ``image`` (B, 3, H', W'), resized to ``size`` = (H, W)
    bilinearly. They depend on the image only, so masks refined class chunk by class chunk share them."""
    image = F.interpolate(image.float(), size=tuple(size), mode='bilinear', align_corners=True)
    std = torch.stack(list(_shifted(image, dilations, with_centre=True)), dim=2).std(dim=2)  # (B, 3, H, W)
    aff = torch.stack([-(n - image).abs() for n in _shifted(image, dilations)], dim=2)  # (B, 3, 8D, H, W)
    return torch.softmax((aff / (1e-8 + std_scale * std.unsqueeze(2))).mean(dim=1), dim=1)  # (B, 8D, H, W)


def pamr_propagate(aff: torch.Tensor, masks: torch.Tensor, iterations: int = 10,
                   dilations: Sequence[int] = (1, 2, 4, 8, 12, 24)) -> torch.Tensor:
    """``iterations`` steps of ``m_i <- sum_j a_ij m_j`` on ``masks`` (B, C, H, W). Each class channel is refined
    alone (the same arithmetic whatever C), so a chunk of classes gives exactly those channels of the whole."""
    out = masks.float()
    for _ in range(iterations):
        refined = torch.zeros_like(out)
        for n, neighbour in enumerate(_shifted(out, dilations)):
            refined += aff[:, n:n + 1] * neighbour
        out = refined
    return out.to(masks.dtype)


def pamr(image: torch.Tensor, masks: torch.Tensor, iterations: int = 10,
         dilations: Sequence[int] = (1, 2, 4, 8, 12, 24), std_scale: float = 0.1) -> torch.Tensor:
    """Refine ``masks`` (B, C, H, W) with affinities from ``image`` (B, 3, H', W'; resized to H x W bilinearly).

    Memory stays at a few copies of the masks: the neighbours are visited one at a time, never stacked."""
    aff = pamr_affinity(image, masks.shape[-2:], dilations, std_scale)
    return pamr_propagate(aff, masks, iterations, dilations)
