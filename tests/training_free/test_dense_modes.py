"""Training-free last-block modes (issue 16, docs/training_free.md) against a plain computation of each formula:
open_clip's own intermediates for the tokens entering the last block, then per-head dense matrices built from the
block's weights, explicit softmaxes and a Python loop for NACLIP's Gaussian."""
import math

import pytest
import torch
import torch.nn.functional as F

from conftest import TINY_CLIP
from reclip_mmseg.clip import CLIPViT


@pytest.fixture(scope='module')
def vits():
    base = CLIPViT(clip=TINY_CLIP)
    return {m: CLIPViT(clip=TINY_CLIP, dense_mode=m) for m in ('maskclip', 'vanilla', 'sclip', 'clearclip', 'naclip')}


def _last_block_input(model, x):
    visual = model.visual
    n = len(visual.transformer.resblocks)
    out = visual.forward_intermediates(x, indices=[n - 2], output_fmt='NLC', intermediates_only=True,
                                       output_extra_tokens=True)
    patches = out['image_intermediates'][0]
    cls = out['image_intermediates_prefix'][0]
    return torch.cat([cls, patches], dim=1)  # (B, 1 + N, W)


def _by_hand(model, x, mode, grid, sigma=5.0):
    visual = model.visual
    X = _last_block_input(model, x)
    sd = visual.state_dict()
    n = len(visual.transformer.resblocks)
    p = f'transformer.resblocks.{n - 1}.'
    W = X.shape[-1]
    heads = visual.transformer.resblocks[-1].attn.num_heads
    d = W // heads
    ln = lambda t, name: F.layer_norm(t, (W,), sd[name + '.weight'], sd[name + '.bias'])  # noqa: E731
    Y = ln(X, p + 'ln_1')
    Wq, Wk, Wv = sd[p + 'attn.in_proj_weight'].split(W)
    bq, bk, bv = sd[p + 'attn.in_proj_bias'].split(W)
    L = X.shape[1]
    h, w = grid
    G = torch.zeros(L, L)
    for i in range(h * w):
        for j in range(h * w):
            (yi, xi), (yj, xj) = divmod(i, w), divmod(j, w)
            G[1 + i, 1 + j] = math.exp(-((yi - yj) ** 2 + (xi - xj) ** 2) / (2 * sigma ** 2))
    outs = []
    for b in range(X.shape[0]):
        per_head = []
        for hd in range(heads):
            sl = slice(hd * d, (hd + 1) * d)
            q = Y[b] @ Wq[sl].t() + bq[sl]
            k = Y[b] @ Wk[sl].t() + bk[sl]
            v = Y[b] @ Wv[sl].t() + bv[sl]
            s = d ** -0.5
            A = {'vanilla': torch.softmax(s * q @ k.t(), -1),
                 'sclip': torch.softmax(s * q @ q.t(), -1) + torch.softmax(s * k @ k.t(), -1),
                 'clearclip': torch.softmax(s * q @ q.t(), -1),
                 'naclip': torch.softmax(s * k @ k.t() + G, -1),
                 'maskclip': torch.eye(L)}[mode]
            per_head.append(A @ v)
        O = torch.cat(per_head, -1) @ sd[p + 'attn.out_proj.weight'].t() + sd[p + 'attn.out_proj.bias']
        if mode in ('vanilla', 'sclip', 'maskclip'):
            Z = X[b] + O
            m = ln(Z, p + 'ln_2') @ sd[p + 'mlp.c_fc.weight'].t() + sd[p + 'mlp.c_fc.bias']
            m = m * torch.sigmoid(1.702 * m)  # QuickGELU
            Z = Z + m @ sd[p + 'mlp.c_proj.weight'].t() + sd[p + 'mlp.c_proj.bias']
        else:
            Z = O
        outs.append(F.normalize(ln(Z[1:], 'ln_post') @ sd['proj'], dim=-1))
    return torch.stack(outs).transpose(1, 2).reshape(X.shape[0], -1, h, w)


@pytest.mark.parametrize('mode', ['maskclip', 'vanilla', 'sclip', 'clearclip', 'naclip'])
def test_each_mode_equals_its_formula_computed_by_hand(vits, mode):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 224, 224)  # open_clip's intermediates need the native grid (14 x 14)
    ours = vits[mode](x)
    torch.testing.assert_close(ours.dense, _by_hand(vits[mode].clip_model, x, mode, (14, 14)), rtol=1e-4, atol=1e-5)
    # the global embedding and P do not depend on the mode
    torch.testing.assert_close(ours.global_embed, vits['maskclip'](x).global_embed)
    other = vits[mode](torch.randn(1, 3, 64, 90))  # any size: padded to 64 x 96, grid 4 x 6
    assert other.dense.shape == (1, vits[mode].embed_dim, 4, 6) and torch.isfinite(other.dense).all()


def test_modes_differ_and_vanilla_equals_open_clips_own_last_block(vits):
    torch.manual_seed(1)
    x = torch.randn(1, 3, 224, 224)
    dense = {m: v(x).dense for m, v in vits.items()}
    for a in dense:
        for b in dense:
            if a < b:
                assert (dense[a] - dense[b]).abs().max() > 1e-3, (a, b)
    model = vits['vanilla'].clip_model.visual
    out = model.forward_intermediates(x, indices=[len(model.transformer.resblocks) - 1], output_fmt='NLC',
                                      intermediates_only=True)['image_intermediates'][0]
    ref = F.normalize(model.ln_post(out) @ model.proj, dim=-1).transpose(1, 2).reshape(1, -1, 14, 14)
    torch.testing.assert_close(dense['vanilla'], ref, rtol=1e-4, atol=1e-5)


def test_naclip_gaussian_is_cached_per_grid(vits):
    v = vits['naclip']
    g1 = v.naclip_gaussian(4, 6, torch.device('cpu'), torch.float32)
    assert v.naclip_gaussian(4, 6, torch.device('cpu'), torch.float32) is g1
    assert g1.shape == (25, 25) and float(g1[0].abs().sum()) == 0 and float(g1[:, 0].abs().sum()) == 0
    assert float(g1[1, 1]) == 1.0


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="dense_mode must be one of"):
        CLIPViT(clip=TINY_CLIP, dense_mode='clear_clip')


def _pamr_by_definition(image, masks, iterations, dilations, lam=0.1):
    """PAMR written pixel by pixel from its definition (clamped indices = replicated borders)."""
    import statistics
    B, K, H, W = image.shape
    C = masks.shape[1]
    offs = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    at = lambda t, b, c, y, x: float(t[b, c, min(max(y, 0), H - 1), min(max(x, 0), W - 1)])  # noqa: E731
    weights = {}
    for b in range(B):
        for y in range(H):
            for x in range(W):
                sig = [statistics.stdev([at(image, b, c, y + dy * d, x + dx * d) for d in dilations
                                         for dy in (-1, 0, 1) for dx in (-1, 0, 1)]) for c in range(K)]
                k = [sum(-abs(at(image, b, c, y + dy * d, x + dx * d) - at(image, b, c, y, x)) / (1e-8 + lam * sig[c])
                         for c in range(K)) / K for d in dilations for dy, dx in offs]
                e = [math.exp(v - max(k)) for v in k]
                weights[b, y, x] = [v / sum(e) for v in e]
    m = masks.clone().double()
    for _ in range(iterations):
        new = torch.zeros_like(m)
        for b in range(B):
            for y in range(H):
                for x in range(W):
                    nbrs = [(y + dy * d, x + dx * d) for d in dilations for dy, dx in offs]
                    for c in range(C):
                        new[b, c, y, x] = sum(a * at(m, b, c, yy, xx) for a, (yy, xx) in zip(weights[b, y, x], nbrs))
        m = new
    return m.float()


def test_pamr_equals_its_definition_pixel_by_pixel():
    from reclip_mmseg.models import pamr
    torch.manual_seed(0)
    image = torch.rand(1, 3, 7, 9)
    masks = torch.randn(1, 2, 7, 9)
    ours = pamr(image, masks, iterations=2, dilations=(1, 2))
    torch.testing.assert_close(ours, _pamr_by_definition(image, masks, 2, (1, 2)), rtol=1e-4, atol=1e-5)
    assert (ours - masks).abs().max() > 1e-3


def test_background_threshold_by_hand():
    from reclip_mmseg.models import apply_background_threshold
    logits = torch.tensor([[0.10, 0.30, 0.305], [0.20, 0.20, 0.90]]).t().reshape(1, 3, 1, 2)  # 3 classes, 2 px
    out = apply_background_threshold(logits, prob_thd=0.6, logit_scale=50.0)
    p = torch.softmax(50 * logits, dim=1).amax(1)  # px 0: top ~0.56, px 1: ~1
    expected = torch.where(p < 0.6, torch.zeros_like(p, dtype=torch.long), logits.argmax(1))
    assert torch.equal(out.argmax(1), expected) and int(expected[0, 0, 0]) == 0 and int(expected[0, 0, 1]) == 2
    assert torch.equal(apply_background_threshold(logits, 0.01, 50.0).argmax(1), logits.argmax(1))


# --------------------------------------------------------------------------------------- SC-CLIP and SFP
@pytest.fixture(scope='module')
def deep_tiny():
    """reclip-tiny-deep: 12 vision blocks as ViT-B (the published block indices need its depth), untrained."""
    clip = dict(model_name='reclip-tiny-deep', pretrained=None)
    return {m: CLIPViT(clip=clip, dense_mode=m) for m in ('sc_clip', 'sfp')}


def _self_calibrated_by_hand(model, x, mode):
    from sklearn.neighbors import LocalOutlierFactor
    visual = model.visual
    L = len(visual.transformer.resblocks)
    out = visual.forward_intermediates(x, indices=list(range(L - 1)), output_fmt='NLC', intermediates_only=True,
                                       output_extra_tokens=True)
    feats = [torch.cat([c, p], dim=1)[0] for c, p in zip(out['image_intermediates_prefix'],
                                                          out['image_intermediates'])]  # block k -> feats[k-1]
    sd = visual.state_dict()
    W = feats[0].shape[-1]
    heads = visual.transformer.resblocks[-1].attn.num_heads
    d = W // heads
    h = w = 14
    N = h * w

    def ln(t, name):
        return F.layer_norm(t, (W,), sd[name + '.weight'], sd[name + '.bias'])

    def qkv(block, t):
        p = f'transformer.resblocks.{block - 1}.'
        y = ln(t, p + 'ln_1')
        Wq, Wk, Wv = sd[p + 'attn.in_proj_weight'].split(W)
        bq, bk, bv = sd[p + 'attn.in_proj_bias'].split(W)
        return [(y @ Wx[i * d:(i + 1) * d].t() + bx[i * d:(i + 1) * d]) for i in range(heads)
                for Wx, bx in ((Wq, bq), (Wk, bk), (Wv, bv))]

    # 1. outliers of block 11's output
    if mode == 'sc_clip':
        lof = LocalOutlierFactor(n_neighbors=30, contamination=0.05).fit_predict(feats[10][1:].numpy())
        outliers = {i for i in range(N) if lof[i] == -1}
    else:
        parts = qkv(11, feats[9])
        A = sum(torch.softmax(parts[3 * i] @ parts[3 * i + 1].t() / math.sqrt(d), -1) for i in range(heads)) / heads
        cands = [i for i in range(N) if 1.5 * float(A[0, 1 + i]) > float(A[1 + i, 1 + i])]
        outliers = set(sorted(cands, key=lambda i: -float(A[0, 1 + i]))[:10])

    def repair(tokens):
        fixed = tokens.clone()
        for i in outliers:
            y, xx = divmod(i, w)
            nb = [(y + a) * w + xx + b for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)
                  and 0 <= y + a < h and 0 <= xx + b < w and (y + a) * w + xx + b not in outliers]
            if nb:
                fixed[i] = tokens[nb].mean(0)
        return fixed

    def cos(t):
        t = t / t.norm(dim=-1, keepdim=True)
        return t @ t.t()

    def agg(t, s):
        return (s / (s.sum(-1, keepdim=True) + 1e-6)) @ t

    patches = repair(feats[10][1:])
    s_raw = cos(repair(feats[8][1:]))
    s_pre = s_raw * (s_raw >= 0.4)
    base = s_raw if mode == 'sc_clip' else s_pre
    M = 3 * (base - base.mean())
    M[M < 0] = float('-inf')
    s_post = cos(feats[3][1:])
    s_post = s_post * (s_post >= 0.4)
    p = f'transformer.resblocks.{L - 1}.'

    def attend(t, sim_only=False):
        parts = qkv(L, t)
        outs = []
        for i in range(heads):
            q, k, v = parts[3 * i:3 * i + 3]
            a_m = torch.softmax(M, -1)
            a_k = torch.softmax(k @ k.t() / math.sqrt(d), -1)
            a_q = torch.softmax(q @ q.t() / math.sqrt(d), -1)
            A = a_m if sim_only else ((a_m + a_k) / 2 if mode == 'sc_clip' else (a_m + a_k + a_q) / 3)
            outs.append(A @ v)
        return torch.cat(outs, -1) @ sd[p + 'attn.out_proj.weight'].t() + sd[p + 'attn.out_proj.bias']

    result = agg(attend(agg(patches, s_pre)) + 0.3 * feats[10][:1], s_post)
    multi = sum(feats[b - 1] for b in range(4, 11))
    result = result + agg(attend(multi[1:], sim_only=(mode == 'sfp')) + 0.3 * multi[:1], s_post)
    dense = F.normalize(ln(result, 'ln_post') @ sd['proj'], dim=-1)
    return dense.t().reshape(1, -1, h, w), outliers


@pytest.mark.parametrize('mode', ['sc_clip', 'sfp'])
def test_self_calibrated_modes_equal_their_pipeline_computed_by_hand(deep_tiny, mode):
    torch.manual_seed(2)
    x = torch.randn(1, 3, 224, 224)
    ref, outliers = _self_calibrated_by_hand(deep_tiny[mode].clip_model, x, mode)
    assert outliers  # the repair step is exercised
    torch.testing.assert_close(deep_tiny[mode](x).dense, ref, rtol=1e-4, atol=1e-4)
    other = deep_tiny[mode](torch.randn(2, 3, 96, 128))  # batch of 2, non-square grid
    assert other.dense.shape == (2, 64, 6, 8) and torch.isfinite(other.dense).all()


def test_self_calibrated_modes_refuse_depths_without_published_constants():
    with pytest.raises(ValueError, match='published constants'):
        CLIPViT(clip=TINY_CLIP, dense_mode='sc_clip')
