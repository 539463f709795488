"""SC-CLIP and SFP (docs/training_free.md): the last block fed self-calibrated patch tokens.

Both share one skeleton over the outputs of blocks 1..L-1 (ViT-B/16: L = 12; 1-indexed as the papers count):
1. outlier patch tokens of block L-1's output are found and replaced, in block L-1's and block ``pre``'s patch
   tokens, by the mean of their valid 3x3 grid neighbours (inside the grid and not outliers themselves).
   SC-CLIP: Local Outlier Factor, k = 30, 5 % contamination, by default the authors' variant (``lof='release'``,
   see :func:`release_lof_scores`: squared Euclidean distances, the reach distance taken from the point's own
   k-distance), or scikit-learn's (``lof='sklearn'``); an outlier with no valid neighbour is kept.
   SFP: the class token attends to patch i more than i attends to itself, ``1.5·A[cls, i] > A[i, i]`` in block
   L-1's head-averaged attention, the 10 largest ``A[cls, i]``; an outlier with no valid neighbour becomes a zero
   vector (its neighbour sum over zero neighbours, as SFP's release computes it), whose cosine similarity is taken
   as 0 with the other tokens and 1 with itself (where the release's 0/0 would make the whole image NaN);
2. ``S_raw`` = cosine self-similarity of block ``pre``'s repaired patch tokens; ``S`` = ``S_raw`` with entries
   below beta = 0.4 set to 0; the patch tokens entering the last block become ``rownorm(S) X``
   (rows divided by their sum + 1e-6);
3. the last block is attention only (no residual, no MLP): SC-CLIP ``A = ½[softmax(M) + softmax(s·k kᵀ)]`` with
   ``M = 3·(S_raw − mean S_raw)``, negative entries masked; SFP ``A = ⅓[softmax(s·k kᵀ) + softmax(s·q qᵀ) +
   softmax(M)]`` with M made the same way from the thresholded ``S``; output ``O(A) + 0.3·x_cls`` (block L-1's
   class token);
4. post-aggregation: ``rownorm(S_post) ·`` with ``S_post`` block ``post``'s patch-token cosine similarity,
   thresholded at beta;
5. multi-level: the sum of the outputs of blocks ``multi`` (all tokens) goes through the last block's attention
   (SFP: ``softmax(M)`` alone), plus 0.3 of that sum's class token, is post-aggregated likewise and added.
Constants by depth (SC-CLIP's release; SFP's, read for ViT-B/16 only, are the same): 12 blocks (ViT-B/16, and
ViT-B/32, which has the same depth and no published values of its own) pre = 9, post = 4, multi = 4..10,
class-token weight 0.3; 24 blocks (ViT-L/14, ViT-L/14@336) pre = 16, post = 6, multi = 8..19, weight 0.1. Other
depths refuse to build.
"""
from typing import List, Sequence

import torch
import torch.nn.functional as F

BETA = 0.4
M_SCALE = 3.0
LOF_NEIGHBOURS, LOF_CONTAMINATION = 30, 0.05
LOF_VARIANTS = ('release', 'sklearn')  # the first is the default
ISOLATED_RULES = ('keep', 'zero')  # what repair() does with an outlier that has no valid neighbour
ISOLATED_BY_MODE = {'sc_clip': 'keep', 'sfp': 'zero'}  # as each release does
SFP_TOP_OUTLIERS, SFP_RATIO = 10, 1.5
# depth -> (pre block, post block, multi-level blocks, class-token weight); blocks 1-indexed
CONSTANTS_BY_DEPTH = {12: (9, 4, tuple(range(4, 11)), 0.3), 24: (16, 6, tuple(range(8, 20)), 0.1)}


def constants_for_depth(depth: int, mode: str = 'sc_clip'):
    """(pre block, post block, multi-level blocks, class-token weight) for a ViT of ``depth`` blocks."""
    if depth not in CONSTANTS_BY_DEPTH:
        raise ValueError(f"dense mode {mode!r} (model.backbone.dense_mode) has published constants for ViTs of "
                         f"{sorted(CONSTANTS_BY_DEPTH)} blocks (ViT-B, ViT-L), not {depth}; no config key sets them: "
                         f"use a 12- or 24-block CLIP, or another dense_mode")
    return CONSTANTS_BY_DEPTH[depth]


def heads_qkv(block, x: torch.Tensor):
    """Per-head q, k, v (B, heads, L, d) of ``LN1(x)`` from the block's ``in_proj`` (batch-first x)."""
    attn = block.attn
    qkv = F.linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
    return [t.unflatten(-1, (attn.num_heads, -1)).transpose(1, 2) for t in qkv.chunk(3, dim=-1)]


def block_with_attention(block, x: torch.Tensor):
    """An ordinary CLIP block on batch-first ``x`` (B, L, W), computed from its weights so that its per-head
    attention ``softmax(s·q kᵀ)`` (B, heads, L, L) comes out too. Returns (output, attention, ``LN1(x)``)."""
    y = block.ln_1(x)
    attn = block.attn
    qkv = F.linear(y, attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = [t.unflatten(-1, (attn.num_heads, -1)).transpose(1, 2) for t in qkv.chunk(3, dim=-1)]
    weights = torch.softmax(q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5, dim=-1)
    out = x + block.ls_1(attn.out_proj((weights @ v).transpose(1, 2).flatten(2)))
    return out + block.ls_2(block.mlp(block.ln_2(out))), weights, y


def check_lof(lof: str) -> str:
    if lof not in LOF_VARIANTS:
        raise ValueError(f"lof (SC-CLIP's outlier detector, model.backbone.lof) must be one of {LOF_VARIANTS}, "
                         f"got {lof!r}")
    return lof


def release_lof_scores(tokens: torch.Tensor, k: int) -> torch.Tensor:
    """(B, N) Local Outlier Factor of each token of (B, N, W), as SC-CLIP's release computes it.

    With ``d(p, o) = ‖p − o‖²`` (squared Euclidean), ``N_k(p)`` the k nearest other tokens and ``k-dist(p)`` the
    distance to the k-th of them:
        reach(p, o) = max(k-dist(p), d(p, o))                       (p's own k-distance)
        lrd(p)      = 1 / mean_{o ∈ N_k(p)} reach(p, o)
        LOF(p)      = mean_{o ∈ N_k(p)} lrd(o) / lrd(p).
    Since ``d(p, o) <= k-dist(p)`` for every neighbour, ``reach(p, o) = k-dist(p)`` and
    ``LOF(p) = mean_o k-dist(p) / k-dist(o)``. Scikit-learn's LOF (Breunig et al. 2000) differs in two places:
    plain Euclidean distances, and ``reach(p, o) = max(k-dist(o), d(p, o))`` with the *neighbour's* k-distance.
    The release's ``lrd`` has an extra factor k, which cancels in the ratio. A token's exact duplicate, if any,
    has the same lrd as the token itself, so excluding the token (as here) or dropping the first of its k + 1
    nearest (as the release does) gives the same scores; ties at the k-th distance go to whichever token
    ``topk`` returns, as in the release. Computed in float64 (the release: the model's dtype).
    """
    x = tokens.double()
    sq = (x * x).sum(-1)
    dist = (sq[:, :, None] + sq[:, None, :] - 2 * x @ x.transpose(1, 2)).clamp(min=0)
    dist.diagonal(dim1=1, dim2=2).fill_(float('inf'))  # a token is not its own neighbour
    knn_dist, knn_idx = dist.topk(k, dim=-1, largest=False)  # (B, N, k), ascending
    k_dist = knn_dist[..., -1:]  # (B, N, 1)
    reach = torch.maximum(knn_dist, k_dist)
    lrd = 1.0 / reach.mean(-1)  # (B, N)
    neighbour_lrd = torch.gather(lrd[:, None, :].expand(-1, lrd.shape[1], -1), 2, knn_idx)
    return (neighbour_lrd / lrd[..., None]).mean(-1)


def lof_outliers(patches: torch.Tensor, lof: str = 'release', n_neighbors: int = LOF_NEIGHBOURS,
                 contamination: float = LOF_CONTAMINATION) -> torch.Tensor:
    """(B, N) bool: the Local Outlier Factor's outliers among each image's tokens (B, N, W); k = ``n_neighbors``
    (at most N - 1).

    ``lof='release'`` (default): SC-CLIP's variant (:func:`release_lof_scores`); a token is flagged when its LOF is
    above the ``1 − contamination`` quantile of the image's LOFs (linear interpolation, strictly above).
    ``lof='sklearn'``: scikit-learn's ``LocalOutlierFactor(n_neighbors, contamination)``, flagging a token when its
    ``−LOF`` is strictly below the ``contamination`` percentile. Both flag the same number of tokens for the same N
    (10 of 196 at 5 %, 3 of 60), not always the same tokens.
    """
    check_lof(lof)
    k = min(n_neighbors, patches.shape[1] - 1)
    if lof == 'release':
        scores = release_lof_scores(patches.detach(), k)
        return scores > torch.quantile(scores, 1 - contamination, dim=1, keepdim=True)
    from sklearn.neighbors import LocalOutlierFactor
    out = []
    for tokens in patches.detach().float().cpu().numpy():
        labels = LocalOutlierFactor(n_neighbors=k, contamination=contamination).fit_predict(tokens)
        out.append(torch.from_numpy(labels == -1))
    return torch.stack(out).to(patches.device)


def attention_outliers(attn: torch.Tensor, top: int = SFP_TOP_OUTLIERS, ratio: float = SFP_RATIO) -> torch.Tensor:
    """(B, N) bool from head-averaged attention (B, 1 + N, 1 + N): candidates ``ratio·A[cls, i] > A[i, i]``, the
    ``top`` of them with the largest ``A[cls, i]``."""
    to_patch = attn[:, 0, 1:]
    self_attn = attn.diagonal(dim1=1, dim2=2)[:, 1:]
    score = torch.where(ratio * to_patch > self_attn, to_patch, torch.full_like(to_patch, -1.0))
    chosen = score.topk(min(top, score.shape[1]), dim=1).indices
    out = torch.zeros_like(to_patch, dtype=torch.bool).scatter_(1, chosen, True)
    return out & (score > -1.0)


def repair(patches: torch.Tensor, outliers: torch.Tensor, h: int, w: int, isolated: str = 'keep') -> torch.Tensor:
    """Outlier tokens (B, N, W) replaced by the mean of their valid 3x3 neighbours (in the grid, not outliers).
    An outlier with no valid neighbour is kept (``isolated='keep'``, SC-CLIP's release) or set to zero
    (``isolated='zero'``, SFP's release)."""
    if isolated not in ISOLATED_RULES:
        raise ValueError(f'repair: isolated must be one of {ISOLATED_RULES}, got {isolated!r}')
    B, N, W = patches.shape
    keep = (~outliers).to(patches.dtype).view(B, 1, h, w)
    grid = patches.transpose(1, 2).reshape(B, W, h, w) * keep
    ring = torch.ones(1, 1, 3, 3, dtype=patches.dtype, device=patches.device)
    ring[..., 1, 1] = 0
    total = F.conv2d(grid.reshape(B * W, 1, h, w), ring, padding=1).view(B, W, h, w)
    count = F.conv2d(keep, ring, padding=1)
    replace = outliers.view(B, 1, h, w)
    if isolated == 'keep':
        replace = replace & (count > 0)
    original = patches.transpose(1, 2).reshape(B, W, h, w)
    # no valid neighbour: total = 0, so the replacement is the zero vector
    return torch.where(replace, total / count.clamp(min=1), original).flatten(2).transpose(1, 2)


def cosine_similarity(patches: torch.Tensor) -> torch.Tensor:
    """(B, N, N) cosine similarity of the tokens (B, N, W). A zero token (an SFP outlier without a valid neighbour,
    see :func:`repair`) has similarity 0 with every other token and 1 with itself: SFP's release divides it by its
    zero norm (0/0, NaN that spreads through the aggregations to the whole image); self-similarity 1 keeps its row
    of ``M`` finite and leaves every other token's similarities as they are."""
    f = F.normalize(patches, dim=-1)
    sim = f @ f.transpose(1, 2)
    zero = patches.abs().amax(dim=-1) == 0  # (B, N)
    if zero.any():
        sim = sim + torch.diag_embed(zero.to(sim.dtype))
    return sim


def thresholded(sim: torch.Tensor) -> torch.Tensor:
    return torch.where(sim < BETA, torch.zeros_like(sim), sim)


def aggregate(tokens: torch.Tensor, sim: torch.Tensor) -> torch.Tensor:
    return (sim / (sim.sum(dim=-1, keepdim=True) + 1e-6)) @ tokens


def similarity_logits(sim: torch.Tensor) -> torch.Tensor:
    """``M = 3·(S − mean S)`` per image, negative entries -inf (the diagonal, cosine 1, always stays finite)."""
    m = M_SCALE * (sim - sim.mean(dim=(1, 2), keepdim=True))
    return m.masked_fill(m < 0, float('-inf'))


def last_block_attention(block, tokens: torch.Tensor, m_logits: torch.Tensor, mode: str,
                         similarity_only: bool = False) -> torch.Tensor:
    """``O(A)`` (B, N, W) over patch tokens alone: the mode's mix of softmax(M) with k-k (and q-q for SFP)."""
    q, k, v = heads_qkv(block, tokens)
    by_sim = torch.softmax(m_logits, dim=-1).unsqueeze(1).to(v.dtype) @ v
    if similarity_only:
        out = by_sim
    elif mode == 'sc_clip':
        out = (by_sim + F.scaled_dot_product_attention(k, k, v)) / 2
    else:
        out = (by_sim + F.scaled_dot_product_attention(k, k, v) + F.scaled_dot_product_attention(q, q, v)) / 3
    return block.attn.out_proj(out.transpose(1, 2).flatten(2))


def head_averaged_attention(block, x: torch.Tensor) -> torch.Tensor:
    """softmax(s·q kᵀ) of ``block`` on its input ``x`` (B, L, W), averaged over heads: (B, L, L)."""
    q, k, _ = heads_qkv(block, x)
    return torch.softmax(q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5, dim=-1).mean(dim=1)


def self_calibrated_tokens(blocks: Sequence, outputs: List[torch.Tensor], h: int, w: int, mode: str,
                           lof: str = 'release') -> torch.Tensor:
    """Dense patch tokens (B, h*w, W) before ``ln_post``. ``outputs[i]`` is block i+1's output (batch-first,
    class token first), for every block but the last; ``blocks`` are the transformer's blocks. ``lof`` chooses
    SC-CLIP's outlier detector (:func:`lof_outliers`); SFP does not use it."""
    pre_block, post_block, multi_blocks, cls_weight = constants_for_depth(len(blocks), mode)
    last = blocks[-1]
    x = outputs[-1]
    cls, patches = x[:, :1], x[:, 1:]
    if mode == 'sc_clip':
        outliers = lof_outliers(patches, lof)
    else:  # block L-1's attention, from its input (block L-2's output)
        outliers = attention_outliers(head_averaged_attention(blocks[-2], outputs[-2]))
    isolated = ISOLATED_BY_MODE[mode]
    patches = repair(patches, outliers, h, w, isolated)
    s_raw = cosine_similarity(repair(outputs[pre_block - 1][:, 1:], outliers, h, w, isolated))
    s_pre = thresholded(s_raw)
    m_logits = similarity_logits(s_raw if mode == 'sc_clip' else s_pre)
    s_post = thresholded(cosine_similarity(outputs[post_block - 1][:, 1:]))

    tokens = aggregate(patches, s_pre)
    out = last_block_attention(last, tokens, m_logits, mode) + cls_weight * cls
    out = aggregate(out, s_post)
    multi = sum(outputs[b - 1] for b in multi_blocks)
    extra = last_block_attention(last, multi[:, 1:], m_logits, mode, similarity_only=(mode == 'sfp'))
    return out + aggregate(extra + cls_weight * multi[:, :1], s_post)
