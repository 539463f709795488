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

The authors' protocol (``CLIPerAuthorsSegmentor``, docs/training_free.md §6.5) reuses steps 1-2 and 4-5
(``layer_logits``, ``fuse_layer_probs``) with the release's own competitors in step 3 (background words) and its
window pass (``release_slide``).
"""
from typing import Callable, List, Optional, Tuple

import torch
import torch.nn.functional as F

from ..utils.slide import slide_windows

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


def layer_logits(last, layer_inputs: List[torch.Tensor], attn_sum: torch.Tensor, queries: torch.Tensor,
                 logit_scale: float, project: Callable[[torch.Tensor], torch.Tensor],
                 fused: Optional[list] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Steps 1-3 up to the softmax: (the last layer's dense patch tokens (B, N, W) before ``ln_post``, the L layers'
    logits ``logit_scale · cos(F_k, queries)`` (L, B, N, Q), the last fused attention ``Â_L`` (B, heads, 1 + N,
    1 + N)).

    ``layer_inputs``: L tensors (B, 1 + N, W), batch-first (``L_1..L_L``); ``attn_sum``: ``A_Σ`` (B, heads, 1 + N,
    1 + N); ``queries``: unit text embeddings (Q, D); ``project``: patch tokens -> unit features (B, N, D).
    ``fused``, if a list, receives every ``Â_k``."""
    attn = last.attn
    width = layer_inputs[0].shape[-1]
    w_v, b_v = attn.in_proj_weight[2 * width:], attn.in_proj_bias[2 * width:]
    queries = queries.to(layer_inputs[0].dtype)
    a = attn_sum
    logits = []
    for inp in layer_inputs:
        a = a / a.sum(dim=-2, keepdim=True)  # columns
        a = a / a.sum(dim=-1, keepdim=True)  # rows
        sym = (a + a.transpose(-1, -2)) / 2
        fused_k = _normalise_rows((sym - sym.mean(dim=-2, keepdim=True)).clamp(min=0))
        v = F.linear(last.ln_1(inp), w_v, b_v).unflatten(-1, (attn.num_heads, -1)).transpose(1, 2)
        tokens = attn.out_proj((fused_k @ v).transpose(1, 2).flatten(2))[:, 1:]
        logits.append(logit_scale * project(tokens) @ queries.t())  # (B, N, Q)
        if fused is not None:
            fused.append(fused_k)
    return tokens, torch.stack(logits), fused_k


def fuse_layer_probs(probs: torch.Tensor, mean_attn: torch.Tensor, attention_thr: float):
    """Steps 4-5: the L layers' class probabilities (L, B, N, C) and ``Ā`` (B, N, N) -> (class scores (B, N, C),
    the L layers' probabilities with the last one thresholded, as the mean saw them)."""
    last = probs[-1]
    last = torch.where(last < attention_thr * last.amax(dim=1, keepdim=True), torch.zeros_like(last), last)
    probs = torch.cat([probs[:-1], last[None]])
    return mean_attn.transpose(1, 2) @ last + probs.mean(dim=0), probs


def cliper_outputs(last, layer_inputs: List[torch.Tensor], attn_sum: torch.Tensor, h: int, w: int,
                   text: torch.Tensor, settings: dict, project: Callable[[torch.Tensor], torch.Tensor],
                   trace: Optional[dict] = None):
    """(the last layer's dense patch tokens (B, h*w, W) before ``ln_post``, class scores (B, C, h, w)).

    ``layer_inputs``: L tensors (B, 1 + N, W), batch-first (``L_1..L_L`` above); ``attn_sum``: ``A_Σ`` (B, heads,
    1 + N, 1 + N); ``text``: the class embeddings (C, D); ``project``: patch tokens -> unit features (B, N, D).
    ``trace``, if a dict, receives the stages."""
    text = F.normalize(text.to(layer_inputs[0].dtype), dim=-1)
    queries = torch.cat([text, F.normalize(text.mean(dim=0, keepdim=True), dim=-1)])  # (C + 1, D)
    C = text.shape[0]
    fused = [] if trace is not None else None
    tokens, logits, fused_last = layer_logits(last, layer_inputs, attn_sum, queries, settings['logit_scale'],
                                              project, fused)
    probs = torch.softmax(logits, dim=-1)[..., :C]
    mean_attn = fused_last.mean(dim=1)[:, 1:, 1:]  # (B, N, N)
    scores, probs = fuse_layer_probs(probs, mean_attn, settings['attention_thr'])
    if trace is not None:
        trace.update(attn_sum=attn_sum, fused_attention=fused, layer_probs=list(probs), scores=scores)
    return tokens, scores.transpose(1, 2).unflatten(2, (h, w))


def release_slide(layers: Callable, inputs: torch.Tensor, crop_size: Tuple[int, int], stride: Tuple[int, int],
                  patch: int) -> torch.Tensor:
    """The release's window pass (CLIPer@c05fa41:modified_clip/model.py:235-276) on the input's patch grid:
    (L, B, Q, h*w) logits, to be softmaxed over Q and averaged ½/½ with the whole image's probabilities.

    ``layers(crop)`` -> (logits (L, B, n, Q), head-mean fused attention without the class token (B, n, n), (ch,
    cw)): ``CLIPViT.cliper_layer_logits``. Windows as MMSeg's (the last one shifted back to end at the border, no
    padding); each window's L layers' logits are summed into the image's patch grid **per layer**, its attention
    into an (h·w) × (h·w) canvas at its patches' indices; logits / window count; canvas / (pair count + 1e-5),
    rows normalised; logits ← logits · canvas (``out_j = Σ_i logit_i · Ā_ij``)."""
    B, _, H, W = inputs.shape
    if H % patch or W % patch:
        raise ValueError(f'the release slide needs image sides that are multiples of the patch ({patch} px), got '
                         f'{H} x {W}: resize with CLIPerResize (each side rounded to a multiple of {patch})')
    (h_crop, w_crop), (h_stride, w_stride) = crop_size, stride
    if h_crop % patch or w_crop % patch or h_stride % patch or w_stride % patch:
        raise ValueError(f'release slide: crop {crop_size} and stride {stride} must be multiples of the patch '
                         f'({patch} px)')
    h, w = H // patch, W // patch
    preds = None
    count = inputs.new_zeros((h, w))
    canvas = inputs.new_zeros((B, h, w, h, w))
    pair_count = inputs.new_zeros((h, w, h, w))
    for y1, y2, x1, x2 in slide_windows(H, W, crop_size, stride):
        logits, attn, (ch, cw) = layers(inputs[:, :, y1:y2, x1:x2])
        py1, py2, px1, px2 = y1 // patch, y2 // patch, x1 // patch, x2 // patch
        L, _, _, Q = logits.shape
        if preds is None:
            preds = inputs.new_zeros((L, B, Q, h, w))
        preds[..., py1:py2, px1:px2] += logits.transpose(-1, -2).unflatten(-1, (ch, cw))
        canvas[:, py1:py2, px1:px2, py1:py2, px1:px2] += attn.reshape(B, ch, cw, ch, cw)
        pair_count[py1:py2, px1:px2, py1:py2, px1:px2] += 1
        count[py1:py2, px1:px2] += 1
    preds = (preds / count).flatten(-2)  # (L, B, Q, h*w)
    canvas = (canvas / (pair_count + 1e-5)).reshape(B, h * w, h * w)
    canvas = canvas / canvas.sum(dim=-1, keepdim=True)
    return preds @ canvas
