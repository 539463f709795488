"""CLIPer (ICCV'25) without its diffusion refinement (FGC) as a dense mode (docs/training_free.md §2): early-layer
attention fusion, CLIP's last block applied to every layer's input, class maps fused over the layers.

Blocks 1-indexed, L blocks (ViT-B/16: 12):
1. blocks 1..L-1 run as CLIP runs them; ``A_Σ`` = the sum of their per-head attentions ``softmax(s·q kᵀ)``
   (class token included); ``L_b = LN1_b(X_b)`` (block b's own normalised input) for b < L, ``L_L = X_L``;
2. for k = 1..L in order, ``A_Σ`` is column-normalised then row-normalised **in place** (so layer k sees k rounds);
   ``Â_k`` = the symmetrised ``(A + Aᵀ)/2`` minus its column means, clamped at 0, rows normalised; the layer's
   tokens are ``O_L(Â_k)`` on ``LN1_L(L_k)`` (the last block's value and output projections; no residual, no MLP),
   its features ``LN_post(·)·proj``, L2-normalised;
3. ``P_k = softmax(logit_scale · cos(F_k, T))`` over T = [the C class embeddings; their mean], the C class
   channels kept;
4. ``P_L`` loses its values below ``attention_thr`` × its class's maximum over the patches (in place: also inside
   the mean below); ``Q = Āᵀ P_L`` with ``Ā`` the head mean of ``Â_L`` without the class token
   (``Q_j = Σ_i Ā_ij P_L,i``);
5. class scores ``Q + mean_k P_k`` on the patch grid (they replace the head's cosine logits).
"""
from typing import Callable, List, Optional

import torch
import torch.nn.functional as F

# The release's VOC-20 / VOC-21 values (logit scale 100, attention_thr 0.1); every shipped config sets its own.
DEFAULTS = dict(logit_scale=100.0, attention_thr=0.1)


def check_settings(settings: dict) -> dict:
    if settings['logit_scale'] <= 0:
        raise ValueError(f"CLIPViT.cliper['logit_scale'] must be > 0, got {settings['logit_scale']}")
    if not 0.0 <= settings['attention_thr'] <= 1.0:
        raise ValueError(f"CLIPViT.cliper['attention_thr'] must be in [0, 1], got {settings['attention_thr']}")
    return settings


def _normalise_rows(a: torch.Tensor) -> torch.Tensor:
    # a row with no positive entry (not met in practice) stays 0 instead of 0/0
    return a / a.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)


def cliper_outputs(last, layer_inputs: List[torch.Tensor], attn_sum: torch.Tensor, h: int, w: int,
                   text: torch.Tensor, settings: dict, project: Callable[[torch.Tensor], torch.Tensor],
                   trace: Optional[dict] = None):
    """(the last layer's dense patch tokens (B, h*w, W) before ``ln_post``, class scores (B, C, h, w)).

    ``layer_inputs``: L tensors (B, 1 + N, W), batch-first (``L_1..L_L`` above); ``attn_sum``: ``A_Σ`` (B, heads,
    1 + N, 1 + N); ``text``: the class embeddings (C, D); ``project``: patch tokens -> unit features (B, N, D).
    ``trace``, if a dict, receives the stages."""
    attn = last.attn
    width = layer_inputs[0].shape[-1]
    w_v, b_v = attn.in_proj_weight[2 * width:], attn.in_proj_bias[2 * width:]
    text = F.normalize(text.to(layer_inputs[0].dtype), dim=-1)
    queries = torch.cat([text, F.normalize(text.mean(dim=0, keepdim=True), dim=-1)])  # (C + 1, D)
    C = text.shape[0]
    a = attn_sum
    probs, fused = [], []
    for inp in layer_inputs:
        a = a / a.sum(dim=-2, keepdim=True)  # columns
        a = a / a.sum(dim=-1, keepdim=True)  # rows
        sym = (a + a.transpose(-1, -2)) / 2
        fused_k = _normalise_rows((sym - sym.mean(dim=-2, keepdim=True)).clamp(min=0))
        v = F.linear(last.ln_1(inp), w_v, b_v).unflatten(-1, (attn.num_heads, -1)).transpose(1, 2)
        tokens = attn.out_proj((fused_k @ v).transpose(1, 2).flatten(2))[:, 1:]
        logits = settings['logit_scale'] * project(tokens) @ queries.t()  # (B, N, C + 1)
        probs.append(torch.softmax(logits, dim=-1)[..., :C])
        if trace is not None:
            fused.append(fused_k)
    last_probs = probs[-1]
    probs[-1] = torch.where(last_probs < settings['attention_thr'] * last_probs.amax(dim=1, keepdim=True),
                            torch.zeros_like(last_probs), last_probs)
    mean_attn = fused_k.mean(dim=1)[:, 1:, 1:]  # (B, N, N)
    scores = mean_attn.transpose(1, 2) @ probs[-1] + torch.stack(probs).mean(dim=0)  # (B, N, C)
    if trace is not None:
        trace.update(attn_sum=attn_sum, fused_attention=fused, layer_probs=probs, scores=scores)
    return tokens, scores.transpose(1, 2).unflatten(2, (h, w))
