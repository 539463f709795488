"""ResCLIP (CVPR'25) as a dense mode (docs/training_free.md §2): residual cross-correlation self-attention (RCS)
and semantic feedback refinement (SFR) in CLIP's last block, on the NACLIP base or the ClearCLIP base.

Per crop (a slide window or the whole image); blocks 1-indexed as the paper counts them (ViT-B/16: 12 blocks):
1. blocks 1..L-1 run as CLIP runs them; ``R`` = the mean of the per-head attentions ``softmax(s·q kᵀ)`` of blocks
   6, 7, 8, 9 (class token included; ``RCS_BLOCKS_BY_DEPTH``, or ``rcs_blocks``);
2. the base logits of the last block: ``B = s·k kᵀ`` plus NACLIP's Gaussian ``G`` (NACLIP base) or ``B = s·q qᵀ``
   (ClearCLIP base, no G);
3. first pass: ``A' = τ_r·[(1 − λ_r)·softmax(B + G) + λ_r·R]``; tokens ``O(A')`` (no residual, no MLP); features
   ``LN_post(·)·proj`` of the patch tokens, L2-normalised; cosine with every class embedding; bilinear to the
   (padded) input size; PAMR (10 iterations, dilations 8, 16) with the input crop; ``p = softmax(40·logits)``
   over classes; pixel label = argmax, or class 0 where the top ``p`` is below ``temp_thd``; each patch (p × p
   pixels, p the patch size) takes its most frequent pixel label (ties: the smallest label);
4. SFR matrix over the N patches (:func:`sfr_matrix`): same-label indicator, down-weighted by ``exp(−d/D)`` where
   the release's path test fails, blurred along each row, ReLU, rows normalised;
5. second pass: ``S' = S / max S`` (one maximum per image; 0 in the class token's row and column),
   ``A₁ = softmax(τ_s·[(1 − λ_s)·B + λ_s·S'] + G)``, ``A = τ_r·[(1 − λ_r)·A₁ + λ_r·R]`` (rows sum to τ_r, not
   renormalised); the dense tokens are ``O(A)``, no residual, no MLP.
Constants per dataset (τ_r, λ_r, τ_s, λ_s, temp_thd): the release's configs, see the training-free configs.
"""
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F

from ..utils.pamr import pamr
from .self_calibration import heads_qkv

BASES = ('naclip', 'clearclip')
# depth -> the blocks whose attention R averages (1-indexed). 12 (ViT-B/16, ViT-B/32): the paper's blocks 6-9, as the
# release takes them. 24 (ViT-L/14, ViT-L/14@336): no 24-block value is stated; the release's code averages blocks
# 6-9 (list indices 5..8) whatever the depth (ResCLIP@0e085f7:clip/model.py:326-329) and its base config offers
# ViT-L/14 and ViT-B/32 (configs/base_config.py:4), so that is what it runs on ViT-L. Other depths: set rcs_blocks.
RCS_BLOCKS_BY_DEPTH = {12: (6, 7, 8, 9), 24: (6, 7, 8, 9)}
RCS_SOURCES = {12: "ResCLIP paper and release (ViT-B/16's; no ViT-B/32 value published)",
               24: "ResCLIP release's code (blocks 6-9 whatever the depth, clip/model.py:326-329); no 24-block "
                   "value in the paper"}
# The release's VOC-20 row (its headline dataset); every shipped config sets its own dataset's row.
# rcs_blocks None: chosen by depth (RCS_BLOCKS_BY_DEPTH).
DEFAULTS = dict(base='naclip', tau_r=2.0, lambda_r=0.6, tau_s=2.1, lambda_s=0.6, temp_thd=0.10, sigma=5.0,
                logit_scale=40.0, pamr_iterations=10, pamr_dilations=(8, 16), sfr=True, rcs_blocks=None)


def rcs_blocks(depth: int, settings: Optional[dict] = None) -> Tuple[int, ...]:
    """The 1-indexed blocks whose attention R averages: ``settings['rcs_blocks']`` when set, else by depth."""
    given = (settings or {}).get('rcs_blocks')
    if given is not None:
        blocks = tuple(int(b) for b in given)
        if not blocks or not all(1 <= b <= depth - 1 for b in blocks):
            raise ValueError(f"CLIPViT.resclip['rcs_blocks'] (model.backbone.resclip.rcs_blocks) must be 1-indexed "
                             f"blocks before the last (1..{depth - 1} for this {depth}-block ViT), got {given!r}")
        return blocks
    if depth not in RCS_BLOCKS_BY_DEPTH:
        raise ValueError(f"dense mode 'resclip' has RCS blocks for ViTs of {sorted(RCS_BLOCKS_BY_DEPTH)} blocks, "
                         f"not {depth}: set model.backbone.resclip.rcs_blocks (1-indexed blocks before the last; "
                         f"ViT-B's are (6, 7, 8, 9) of 12)")
    return RCS_BLOCKS_BY_DEPTH[depth]


def check_settings(settings: dict, depth: int) -> dict:
    if settings['base'] not in BASES:
        raise ValueError(f"CLIPViT.resclip['base'] (model.backbone.resclip.base) must be one of {BASES}, got "
                         f"{settings['base']!r}")
    for key in ('lambda_r', 'lambda_s'):
        if not 0.0 <= settings[key] <= 1.0:
            raise ValueError(f'CLIPViT.resclip[{key!r}] must be in [0, 1], got {settings[key]}')
    if not 0.0 <= settings['temp_thd'] < 1.0:
        raise ValueError(f"CLIPViT.resclip['temp_thd'] must be in [0, 1), got {settings['temp_thd']}")
    rcs_blocks(depth, settings)
    return settings


def pixel_labels(logits: torch.Tensor, image: torch.Tensor, settings: dict):
    """First-pass class logits (B, C, h, w) on the patch grid -> (probabilities (B, C, H, W), labels (B, H, W)) at
    the size of ``image`` (B, 3, H, W): bilinear, PAMR with ``image``, ``softmax(logit_scale · ·)``, argmax; class 0
    where the top probability is below ``temp_thd``."""
    logits = F.interpolate(logits.float(), size=image.shape[-2:], mode='bilinear', align_corners=False)
    logits = pamr(image, logits, settings['pamr_iterations'], tuple(settings['pamr_dilations']))
    probs = torch.softmax(settings['logit_scale'] * logits, dim=1)
    top, labels = probs.max(dim=1)
    return probs, torch.where(top < settings['temp_thd'], torch.zeros_like(labels), labels)


def patch_labels(labels: torch.Tensor, h: int, w: int, num_classes: int) -> torch.Tensor:
    """(B, h*w): each patch's most frequent pixel label of ``labels`` (B, p*h, p*w); ties go to the smallest label
    (the release uses ``torch.mode``, whose tie rule is not documented)."""
    B, H, W = labels.shape
    p = H // h
    blocks = labels.reshape(B, h, p, w, p).permute(0, 1, 3, 2, 4).reshape(B, h * w, p * p)
    counts = torch.zeros(B, h * w, num_classes, dtype=torch.long, device=labels.device)
    counts.scatter_add_(2, blocks, torch.ones_like(blocks))
    return counts.argmax(dim=-1)  # the first maximum: the smallest label


def sfr_matrix(labels: torch.Tensor, h: int, w: int, sigma: float, dtype=torch.float32) -> torch.Tensor:
    """ResCLIP's SFR matrix S (B, N, N) from the patch labels (B, N), N = h*w, raster order:

    1. ``M_ij = 1`` if patches i and j have the same label, else 0;
    2. path test: with ``d_ij`` the Chebyshev distance of the two grid positions and ``D = max(h, w) − 1`` (the
       largest over the grid), the points ``round(p_i + (k/D)·(p_j − p_i))`` for k = 0..d_ij must all carry i's
       label (as in the release, the step is 1/D whatever d_ij, so a pair nearer than D tests only the first
       d_ij/D of its segment; rounded exactly, half to even); where it fails, ``M_ij ← M_ij · exp(−d_ij / D)``;
    3. each row blurred along the raster index j by a 1-D Gaussian (σ = ``sigma``; length ``K = min(N, int(6σ+1))``,
       made odd by adding 1; weights normalised to sum 1; zero padding);
    4. ReLU, then each row divided by (its sum + 1e-8).
    """
    B, N = labels.shape
    dev = labels.device
    ys = torch.arange(h, device=dev).repeat_interleave(w)
    xs = torch.arange(w, device=dev).repeat(h)
    dy, dx = ys[None, :] - ys[:, None], xs[None, :] - xs[:, None]  # (N, N): p_j − p_i
    dist = torch.maximum(dy.abs(), dx.abs())
    D = max(h, w) - 1
    own = labels[:, :, None]
    same = own == labels[:, None, :]
    valid = torch.ones_like(same)
    for k in range(1, D + 1):  # k = 0 is p_i itself
        py = torch.round((ys[:, None] * D + k * dy).double() / D).long()  # exact: integer / integer in float64
        px = torch.round((xs[:, None] * D + k * dx).double() / D).long()
        valid &= (labels[:, py * w + px] == own) | (k > dist)
    decay = torch.exp(-dist.to(dtype) / max(D, 1))
    m = same.to(dtype) * torch.where(valid, torch.ones_like(decay), decay)
    K = min(N, int(6 * sigma + 1))
    K += 1 - K % 2
    x = torch.arange(K, device=dev, dtype=dtype) - K // 2
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = (kernel / kernel.sum()).view(1, 1, K)
    m = F.conv1d(m.reshape(B * N, 1, N), kernel, padding=K // 2).view(B, N, N).relu()
    return m / (m.sum(dim=-1, keepdim=True) + 1e-8)


def resclip_tokens(last, x: torch.Tensor, rcs: torch.Tensor, h: int, w: int, image: torch.Tensor,
                   text: Optional[torch.Tensor], settings: dict, gauss: Optional[torch.Tensor],
                   project: Callable[[torch.Tensor], torch.Tensor], trace: Optional[dict] = None) -> torch.Tensor:
    """The dense patch tokens (B, h*w, W), before ``ln_post``.

    ``x``: the tokens entering the last block ``last`` (B, 1 + N, W), batch-first; ``rcs``: R (B, heads, 1 + N,
    1 + N); ``image``: the input padded to the grid (B, 3, p*h, p*w); ``text``: the class embeddings (C, D) (needed
    when ``settings['sfr']``); ``gauss``: NACLIP's G (1 + N, 1 + N) for the NACLIP base, else None; ``project``:
    patch tokens -> unit features (B, N, D). ``trace``, if a dict, receives the stages."""
    q, k, v = heads_qkv(last, x)
    s = q.shape[-1] ** -0.5
    base = s * (k @ k.transpose(-1, -2) if settings['base'] == 'naclip' else q @ q.transpose(-1, -2))
    tau_r, lam_r = settings['tau_r'], settings['lambda_r']

    def tokens(a1):
        attn = tau_r * ((1 - lam_r) * a1 + lam_r * rcs)
        return last.attn.out_proj((attn @ v).transpose(1, 2).flatten(2))[:, 1:]

    first = tokens(torch.softmax(base if gauss is None else base + gauss, dim=-1))
    if trace is not None:
        trace.update(rcs=rcs, first_tokens=first)
    if not settings['sfr']:
        return first
    feats = project(first)  # (B, N, D)
    logits = torch.einsum('bnd,cd->bcn', feats, F.normalize(text.to(feats.dtype), dim=-1)).unflatten(2, (h, w))
    probs, pixels = pixel_labels(logits, image, settings)
    patches = patch_labels(pixels, h, w, text.shape[0])
    sfr = sfr_matrix(patches, h, w, settings['sigma'], dtype=x.dtype)
    scaled = F.pad(sfr / sfr.amax(dim=(1, 2), keepdim=True), (1, 0, 1, 0)).unsqueeze(1)  # (B, 1, 1 + N, 1 + N)
    second = settings['tau_s'] * ((1 - settings['lambda_s']) * base + settings['lambda_s'] * scaled)
    out = tokens(torch.softmax(second if gauss is None else second + gauss, dim=-1))
    if trace is not None:
        trace.update(first_logits=logits, probabilities=probs, pixel_labels=pixels, patch_labels=patches, sfr=sfr)
    return out
