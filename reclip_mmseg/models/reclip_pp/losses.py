"""Losses of ReCLIP++ (docs/reclip_pp.md §6, §8)."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS


@MODELS.register_module()
class MaskedContrastiveLoss(nn.Module):
    """Rectification / text-guided loss.

    For image b and each class c of its hypothesis H_b: ``f_bc = mean over all h·w of (F_b ⊙ G_bc)`` (divided
    by h·w, not by the mask area, and not re-normalised, as in the release), ``S = scale · f_bc · Tᵀ`` over all
    C classes, cross-entropy with target c, averaged over H_b; summed over images and divided by B. Images
    with an empty hypothesis add nothing.
    """

    def __init__(self, logit_scale: float = 100.0, loss_weight: float = 1.0, loss_name: str = 'loss_rectify'):
        super().__init__()
        self.logit_scale = logit_scale
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, features: torch.Tensor, masks: torch.Tensor, text_embeds: torch.Tensor,
                labels: Sequence[torch.Tensor]) -> torch.Tensor:
        B, C = masks.shape[:2]
        if len(labels) != B:
            raise ValueError(f'MaskedContrastiveLoss: {len(labels)} label sets for a batch of {B}')
        # (B, C, D): every class pooled at once; only the hypothesis classes are used below.
        pooled = torch.einsum('bdhw,bchw->bcd', features, masks) / (masks.shape[2] * masks.shape[3])
        scores = self.logit_scale * pooled @ text_embeds.t()  # (B, C, C)
        weights = torch.zeros(B, C, device=masks.device, dtype=scores.dtype)
        for b, lab in enumerate(labels):
            lab = torch.as_tensor(lab, device=masks.device, dtype=torch.long).unique()
            if lab.numel():
                if int(lab.min()) < 0 or int(lab.max()) >= C:
                    raise ValueError(f'MaskedContrastiveLoss: image-level label out of range 0..{C - 1}: '
                                     f'{lab.tolist()}')
                weights[b, lab] = 1.0 / lab.numel()
        targets = torch.arange(C, device=masks.device).expand(B, C)
        ce = F.cross_entropy(scores.reshape(B * C, C), targets.reshape(-1), reduction='none').reshape(B, C)
        return self.loss_weight * (ce * weights).sum() / B


@MODELS.register_module()
class FeatureDistillLoss(nn.Module):
    """Feature-guided distillation: L1 between student and teacher features after resizing both to ``size``
    (the image), averaged over elements."""

    def __init__(self, loss_weight: float = 0.5, loss_name: str = 'loss_feat'):
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, size) -> torch.Tensor:
        student = F.interpolate(student, size=size, mode='bilinear', align_corners=False)
        teacher = F.interpolate(teacher, size=size, mode='bilinear', align_corners=False)
        return self.loss_weight * F.l1_loss(student, teacher)
