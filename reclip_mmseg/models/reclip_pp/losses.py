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


# Elements of one chunk of the image-resolution difference in ``upsampled_l1`` (16 MB in float32): small enough to
# stay in cache, large enough for the matrix products to run at speed.
L1_CHUNK_ELEMENTS = 2 ** 22
FEATURE_L1_IMPLS = ('separable', 'interpolate')


def bilinear_matrix(n_in: int, n_out: int, dtype: torch.dtype, device) -> torch.Tensor:
    """(n_out, n_in): the weights ``F.interpolate(mode='bilinear', align_corners=False)`` applies along one axis
    when it resizes n_in samples to n_out. Read off PyTorch's own 1-D linear resize of the unit vectors, so they
    are its weights (the 2-D bilinear resize is this along H, then along W)."""
    eye = torch.eye(n_in, dtype=dtype, device=device).unsqueeze(0)  # channel k = e_k
    return F.interpolate(eye, size=n_out, mode='linear', align_corners=False)[0].t().contiguous()


class _UpsampledL1(torch.autograd.Function):
    """mean |up(s) − up(t)| with ``up`` the bilinear resize to ``size``, without the image-resolution tensors.

    ``up(x) = A_h x A_wᵀ`` per channel, so the difference of one channel is ``[A_h^s, −A_h^t] · [s A_w^sᵀ ;
    t A_w^tᵀ]``, one matrix product, formed a chunk of channels at a time. The teacher has no gradient, so the
    student's gradient ``A_h^sᵀ sign(D) A_w^s / N`` is formed in the same pass, while the chunk is in cache, and
    the backward only scales it."""

    @staticmethod
    def forward(ctx, student, teacher, size):
        dtype = torch.float64 if student.dtype == torch.float64 else torch.float32
        (H, W), device = size, student.device
        B, D, hs, ws = student.shape
        ht, wt = teacher.shape[-2:]
        a_hs, a_ws = bilinear_matrix(hs, H, dtype, device), bilinear_matrix(ws, W, dtype, device)
        a_ht, a_wt = bilinear_matrix(ht, H, dtype, device), bilinear_matrix(wt, W, dtype, device)
        a_h = torch.cat([a_hs, -a_ht], dim=1)  # (H, hs + ht)
        s = student.detach().to(dtype).reshape(B * D, hs, ws)
        t = teacher.detach().to(dtype).reshape(B * D, ht, wt)
        need_grad = ctx.needs_input_grad[0]
        grad = torch.empty_like(s) if need_grad else None
        total = torch.zeros((), dtype=torch.float64, device=device)
        step = max(1, L1_CHUNK_ELEMENTS // (H * W))
        for i in range(0, B * D, step):
            x = torch.cat([s[i:i + step] @ a_ws.t(), t[i:i + step] @ a_wt.t()], dim=1)  # (n, hs + ht, W)
            diff = a_h @ x  # (n, H, W): up(s) − up(t) for these channels
            total += diff.abs().sum().double()  # torch's cascade sum: float32 error ~1e-7 (vector_norm's ~1e-4)
            if need_grad:
                grad[i:i + step] = a_hs.t() @ diff.sign_() @ a_ws
        count = B * D * H * W
        if need_grad:
            ctx.save_for_backward((grad / count).reshape(student.shape).to(student.dtype))
        return (total / count).to(dtype)  # float32 (float64 for float64 inputs), as l1_loss under autocast

    @staticmethod
    def backward(ctx, grad_output):
        grad, = ctx.saved_tensors
        return grad_output * grad, None, None


def upsampled_l1(student: torch.Tensor, teacher: torch.Tensor, size, impl: str = 'separable') -> torch.Tensor:
    """``F.l1_loss(up(student), up(teacher))`` with both resized bilinearly (align_corners=False) to ``size``.

    'interpolate' forms the two (B, D, H, W) tensors as written. 'separable' (``_UpsampledL1``) gives the same
    value and student gradient up to float rounding (a pixel whose difference is within rounding of 0 may take the
    other sign) without them: 5x faster on a 2-core CPU for 512 channels at 336² (docs/speed.md), and no
    image-resolution tensor in memory. It needs a teacher without gradient (the distiller's, computed under
    no_grad); with one, 'interpolate' is used."""
    if impl not in FEATURE_L1_IMPLS:
        raise ValueError(f'FeatureDistillLoss.impl must be one of {FEATURE_L1_IMPLS}, got {impl!r}')
    if student.shape[:2] != teacher.shape[:2]:
        raise ValueError(f'FeatureDistillLoss: student features {tuple(student.shape)} and teacher features '
                         f'{tuple(teacher.shape)} differ in batch or channels')
    size = tuple(int(v) for v in size)
    if impl == 'interpolate' or teacher.requires_grad:
        return F.l1_loss(F.interpolate(student, size=size, mode='bilinear', align_corners=False),
                         F.interpolate(teacher, size=size, mode='bilinear', align_corners=False))
    with torch.autocast(student.device.type, enabled=False):  # float32 matrix products, as l1_loss under autocast
        return _UpsampledL1.apply(student, teacher, size)


@MODELS.register_module()
class FeatureDistillLoss(nn.Module):
    """Feature-guided distillation: L1 between student and teacher features after resizing both to ``size``
    (the image) bilinearly, averaged over elements (the release's formula). ``impl``: how it is computed,
    'separable' (default; no image-resolution tensors) or 'interpolate' (as written); see ``upsampled_l1``."""

    def __init__(self, loss_weight: float = 0.5, loss_name: str = 'loss_feat', impl: str = 'separable'):
        super().__init__()
        if impl not in FEATURE_L1_IMPLS:
            raise ValueError(f'FeatureDistillLoss.impl must be one of {FEATURE_L1_IMPLS}, got {impl!r}')
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.impl = impl

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, student: torch.Tensor, teacher: torch.Tensor, size) -> torch.Tensor:
        return self.loss_weight * upsampled_l1(student, teacher, size, self.impl)
