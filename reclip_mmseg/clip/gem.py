"""GEM (CVPR'24; Grounding Everything Module) as a dense mode (docs/training_free.md §2): a second path of
self-self attention over CLIP's last blocks, no MLP, with an adaptive temperature.

With L blocks and n = ``blocks`` (GEM's default 6: blocks 7..12 of ViT-B/16):
1. blocks 1..L-n run as CLIP runs them; the GEM path starts from their output, ``X_gem = X_{L-n+1}``;
2. for b = L-n+1..L, with ``Y = LN1_b(X_b)`` taken from CLIP's own (original) path, which runs on unchanged:
   - temperature ``τ`` = the mean over all tokens of ``‖Y_t‖₂`` (full width) × d^-½ (d the head width), one
     scalar per image, or the fixed ``temperature`` when set;
   - per head, for each z of v, k, q (from ``Y`` through the block's ``in_proj``): ``iterations`` times
     ``ẑ = z/‖z‖, z ← softmax(τ ẑẑᵀ) ẑ``; then ``ẑ = z/‖z‖``, ``A_z = softmax(τ ẑẑᵀ)``, ``out_z = A_z v`` with
     the original v;
   - ``X_gem ← X_gem + out_proj((out_v + out_k + out_q)/3)`` (no MLP);
3. the dense tokens are the patch tokens of ``X_gem`` (then ``LN_post · proj`` as every mode).
"""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F

from .self_calibration import heads_qkv

# GEM's library defaults: gem_depth=7 (the last 6 blocks), one clustering iteration, adaptive temperature.
DEFAULTS = dict(blocks=6, iterations=1, temperature=None)


def check_settings(settings: dict, depth: int) -> dict:
    if not 1 <= settings['blocks'] <= depth - 1:
        raise ValueError(f"dense mode 'gem' runs its path through the last {settings['blocks']} blocks "
                         f"(model.backbone.gem.blocks, GEM's default 6 of ViT-B's 12): it needs 1 to depth - 1, and "
                         f"this ViT has {depth} blocks")
    if settings['iterations'] < 0:
        raise ValueError(f"CLIPViT.gem['iterations'] must be >= 0, got {settings['iterations']}")
    if settings['temperature'] is not None and settings['temperature'] <= 0:
        raise ValueError(f"CLIPViT.gem['temperature'] must be None (adaptive) or > 0, got {settings['temperature']}")
    return settings


def _self_self(z: torch.Tensor, v: torch.Tensor, tau: torch.Tensor, iterations: int) -> torch.Tensor:
    for _ in range(iterations):
        zn = F.normalize(z, dim=-1)
        z = torch.softmax(tau * zn @ zn.transpose(-1, -2), dim=-1) @ zn
    zn = F.normalize(z, dim=-1)
    return torch.softmax(tau * zn @ zn.transpose(-1, -2), dim=-1) @ v


def gem_tokens(blocks: Sequence, outputs: List[torch.Tensor], settings: dict,
               trace: Optional[dict] = None) -> torch.Tensor:
    """The dense patch tokens (B, N, W) before ``ln_post``. ``outputs[i]`` is block i+1's output (batch-first),
    for every block but the last. ``trace``, if a dict, receives each block's temperature and the path."""
    depth = len(blocks)
    first = depth - settings['blocks']  # 0-indexed: the first GEM block; its input is outputs[first - 1]
    x_gem = outputs[first - 1]
    temps, path = [], []
    for b in range(first, depth):
        block = blocks[b]
        x = outputs[b - 1]  # the input of block b on CLIP's own path
        q, k, v = heads_qkv(block, x)
        if settings['temperature'] is None:
            tau = block.ln_1(x).norm(dim=-1).mean(dim=1) * q.shape[-1] ** -0.5  # (B,)
        else:
            tau = torch.full((x.shape[0],), float(settings['temperature']), dtype=x.dtype, device=x.device)
        tau = tau.view(-1, 1, 1, 1)
        out = sum(_self_self(z, v, tau, settings['iterations']) for z in (v, k, q)) / 3
        x_gem = x_gem + block.attn.out_proj(out.transpose(1, 2).flatten(2))
        temps.append(tau.flatten())
        path.append(x_gem)
    if trace is not None:
        trace.update(temperatures=temps, gem_path=path)
    return x_gem[:, 1:]
