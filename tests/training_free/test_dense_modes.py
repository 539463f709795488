"""Training-free last-block modes (issue 16, docs/training_free.md) against a plain computation of each formula:
open_clip's own intermediates for the tokens entering the last block, then per-head dense matrices built from the
block's weights, explicit softmaxes and a Python loop for NACLIP's Gaussian."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, TINY_CLIP
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
SC_CLIP_CONFIG = 'configs/training_free/sc-clip_vit-b16_voc21.py'
DEEP_TINY = dict(model_name='reclip-tiny-deep', pretrained=None)  # 12 vision blocks as ViT-B, untrained


def _release_lof_by_loop(X, k=30, contamination=0.05):
    """SC-CLIP's LOF from its definition, one token at a time (numpy, float64): squared Euclidean distances d,
    N_k(p) the k nearest other tokens, k-dist(p) = d to the k-th, reach(p, o) = max(k-dist(p), d(p, o)) (p's own
    k-distance), lrd(p) = 1 / mean reach(p, o), LOF(p) = mean lrd(o) / lrd(p); flagged: LOF above its
    (1 - contamination) quantile. Returns (LOF scores, set of flagged indices)."""
    X = np.asarray(X, dtype=np.float64)
    N = len(X)
    d = np.stack([((X - X[i]) ** 2).sum(axis=1) for i in range(N)])
    neighbours, k_dist = [], []
    for i in range(N):
        order = sorted((j for j in range(N) if j != i), key=lambda j: d[i, j])[:k]
        neighbours.append(order)
        k_dist.append(d[i, order[-1]])
    lrd = [1.0 / np.mean([max(k_dist[i], d[i, o]) for o in neighbours[i]]) for i in range(N)]
    lof = np.array([np.mean([lrd[o] / lrd[i] for o in neighbours[i]]) for i in range(N)])
    threshold = np.quantile(lof, 1 - contamination)
    return lof, {i for i in range(N) if lof[i] > threshold}


def _sklearn_lof(X, k=30, contamination=0.05):
    from sklearn.neighbors import LocalOutlierFactor
    labels = LocalOutlierFactor(n_neighbors=k, contamination=contamination).fit_predict(np.asarray(X))
    return {i for i in range(len(X)) if labels[i] == -1}


def _flagged(mask):
    return [set(torch.nonzero(row).flatten().tolist()) for row in mask]


def test_release_lof_equals_its_formula_and_sklearn_lof_is_sklearns_on_random_tokens():
    """Issue 24: SC-CLIP's LOF (the default) against a token-by-token computation of its formula; lof='sklearn'
    against scikit-learn; the two flag as many tokens, often not the same ones."""
    from reclip_mmseg.clip.self_calibration import lof_outliers, release_lof_scores
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(8, 60, 16, generator=g) * torch.rand(8, 60, 1, generator=g).add(0.5)  # 8 images
    release, sk = _flagged(lof_outliers(tokens)), _flagged(lof_outliers(tokens, 'sklearn'))
    scores = release_lof_scores(tokens, 30)
    disagree = 0
    for b in range(len(tokens)):
        ref_scores, ref_flags = _release_lof_by_loop(tokens[b].numpy())
        np.testing.assert_allclose(scores[b].numpy(), ref_scores, rtol=1e-9)
        assert release[b] == ref_flags and len(ref_flags) == 3  # 5 % of 60: above the 0.95 quantile
        assert sk[b] == _sklearn_lof(tokens[b].numpy())
        disagree += release[b] != sk[b]
    assert disagree >= 2  # the switch matters


def test_constructed_points_where_release_and_sklearn_lof_flag_different_tokens():
    """0, 3, 4, 7, 9, 11 on a line, k = 2, one token flagged. 9's own neighbours (7, 11) are close (k-dist 2) but
    theirs are not (3, 4): scikit-learn's reach distance takes the neighbours' k-distance, so 9 looks sparse there
    (LOF (3.5/2.5 + 3.5/3)/2 = 1.28, the largest); the release uses 9's own k-distance, so 9 looks dense
    (LOF 0.35) and the end point 11 (squared k-dist 16 against its neighbours' 4 and 9) is flagged instead
    (LOF (16/4 + 16/9)/2 = 2.89)."""
    from reclip_mmseg.clip.self_calibration import lof_outliers, release_lof_scores
    pts = torch.tensor([0., 3., 4., 7., 9., 11.]).view(1, 6, 1)
    ref_scores, ref_flags = _release_lof_by_loop(pts[0].numpy(), k=2)
    assert ref_flags == {5} and _sklearn_lof(pts[0].numpy(), k=2) == {4}
    assert ref_scores[5] == pytest.approx(26 / 9) and ref_scores[4] == pytest.approx(0.35, abs=0.01)
    torch.testing.assert_close(release_lof_scores(pts, 2)[0], torch.from_numpy(ref_scores))
    assert _flagged(lof_outliers(pts, 'release', n_neighbors=2)) == [{5}]
    assert _flagged(lof_outliers(pts, 'sklearn', n_neighbors=2)) == [{4}]
    # the same points as 8-dimensional tokens (a rotation keeps every distance)
    rot = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64))[0]
    tokens = (F.pad(pts.double(), (0, 7)) @ rot).float()
    assert _flagged(lof_outliers(tokens, n_neighbors=2)) == [{5}]
    assert _flagged(lof_outliers(tokens, 'sklearn', n_neighbors=2)) == [{4}]


def _isolated_case(h=4, w=5, width=3):
    """Outliers: the 3x3 block in the top-left corner of an h x w grid. (0, 0), (0, 1), (1, 0) and (1, 1) have no
    valid neighbour (every neighbour inside the grid is an outlier); the other five touch row 3 or column 3."""
    torch.manual_seed(0)
    patches = torch.randn(1, h * w, width)
    outliers = torch.zeros(1, h * w, dtype=torch.bool)
    for y in range(3):
        for x in range(3):
            outliers[0, y * w + x] = True
    return patches, outliers, {0, 1, w, w + 1}


def test_repair_keeps_or_zeroes_an_outlier_whose_neighbours_are_all_outliers():
    """Issue 24: SFP's release zeroes an outlier without a valid neighbour (its neighbour sum over zero
    neighbours), SC-CLIP's keeps it; the other outliers get their valid neighbours' mean in both."""
    from reclip_mmseg.clip.self_calibration import ISOLATED_BY_MODE, repair
    assert ISOLATED_BY_MODE == {'sc_clip': 'keep', 'sfp': 'zero'}
    h, w = 4, 5
    patches, outliers, isolated = _isolated_case(h, w)
    kept, zeroed = repair(patches, outliers, h, w, 'keep')[0], repair(patches, outliers, h, w, 'zero')[0]
    for i in range(h * w):
        y, x = divmod(i, w)
        valid = [(y + a) * w + x + b for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)
                 and 0 <= y + a < h and 0 <= x + b < w and not outliers[0, (y + a) * w + x + b]]
        if i in isolated:
            assert not valid
            assert torch.equal(kept[i], patches[0, i]) and torch.equal(zeroed[i], torch.zeros(3))
        elif outliers[0, i]:
            assert valid
            torch.testing.assert_close(kept[i], patches[0, valid].mean(0))
            torch.testing.assert_close(zeroed[i], kept[i])
        else:
            assert torch.equal(kept[i], patches[0, i]) and torch.equal(zeroed[i], patches[0, i])
    with pytest.raises(ValueError, match="isolated must be one of"):
        repair(patches, outliers, h, w, 'drop')


def _deep_tiny_from_config(**backbone):
    """The backbone of the shipped sc_clip config, built through the registry, on the 12-block tiny CLIP."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = Config.fromfile(f'{ROOT}/{SC_CLIP_CONFIG}').model.backbone
    cfg.update(clip=dict(DEEP_TINY), **backbone)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def deep_tiny():
    """reclip-tiny-deep: 12 vision blocks as ViT-B (the published block indices need its depth), untrained."""
    models = {m: CLIPViT(clip=DEEP_TINY, dense_mode=m) for m in ('sc_clip', 'sfp')}
    models['sc_clip_sklearn'] = _deep_tiny_from_config(lof='sklearn')
    return models


def _self_calibrated_by_hand(model, x, mode, lof='release', outliers=None, isolated=None):
    """The dense output and the flagged tokens; ``outliers`` (a set) replaces the detection, ``isolated`` ('keep'
    or 'zero') the mode's rule for an outlier without a valid neighbour (SC-CLIP keeps it, SFP zeroes it)."""
    isolated = isolated or ('zero' if mode == 'sfp' else 'keep')
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
    if outliers is not None:
        pass
    elif mode == 'sc_clip':
        tokens = feats[10][1:].numpy()
        outliers = _release_lof_by_loop(tokens)[1] if lof == 'release' else _sklearn_lof(tokens)
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
            elif isolated == 'zero':
                fixed[i] = 0
        return fixed

    def cos(t):  # a zero token (SFP's isolated outlier): similarity 0 with the others, 1 with itself
        n = t.norm(dim=-1, keepdim=True)
        u = torch.where(n > 0, t / n, torch.zeros_like(t))
        c = u @ u.t()
        for i in range(len(t)):
            if n[i] == 0:
                c[i, i] = 1.0
        return c

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


def test_lof_switch_reaches_the_dense_output_from_the_config(deep_tiny):
    """model.backbone.lof: the shipped sc_clip config's backbone (default: SC-CLIP's LOF) and the same with
    lof='sklearn', built through the registry, each equal to the pipeline computed by hand with the tokens its own
    LOF flags (the two sets differ on this image); a bad value is refused, naming the key and the choices."""
    torch.manual_seed(2)
    x = torch.randn(1, 3, 224, 224)
    default, sklearn = _deep_tiny_from_config(), deep_tiny['sc_clip_sklearn']
    assert default.lof == 'release' and sklearn.lof == 'sklearn'
    ref_release, flagged_release = _self_calibrated_by_hand(default.clip_model, x, 'sc_clip', 'release')
    ref_sklearn, flagged_sklearn = _self_calibrated_by_hand(sklearn.clip_model, x, 'sc_clip', 'sklearn')
    assert flagged_release != flagged_sklearn and len(flagged_release) == len(flagged_sklearn) == 10
    torch.testing.assert_close(default(x).dense, ref_release, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(sklearn(x).dense, ref_sklearn, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"model\.backbone\.lof.*\('release', 'sklearn'\), got 'scikit'"):
        _deep_tiny_from_config(lof='scikit')


@pytest.mark.parametrize('mode', ['sc_clip', 'sfp'])
def test_an_outlier_without_valid_neighbours_is_kept_by_sc_clip_and_zeroed_by_sfp(deep_tiny, mode, monkeypatch):
    """The pipeline with a constructed outlier set (3x3 blocks in the grid's corner and inside it: five outliers
    without a valid neighbour, the corner block's 2x2 and the inner block's centre) against the pipeline by hand."""
    from reclip_mmseg.clip import self_calibration
    from reclip_mmseg.clip.self_calibration import ISOLATED_BY_MODE
    h = w = 14
    chosen = {y * w + x for y in range(3) for x in range(3)} | {y * w + x for y in range(6, 9) for x in range(6, 9)}

    def fixed(tokens, *args, **kwargs):  # (B, N, W) patch tokens or (B, 1 + N, 1 + N) attention
        mask = torch.zeros(tokens.shape[0], h * w, dtype=torch.bool)
        mask[:, sorted(chosen)] = True
        return mask
    monkeypatch.setattr(self_calibration, 'lof_outliers', fixed)
    monkeypatch.setattr(self_calibration, 'attention_outliers', fixed)
    torch.manual_seed(2)
    x = torch.randn(1, 3, 224, 224)
    ref, _ = _self_calibrated_by_hand(deep_tiny[mode].clip_model, x, mode, outliers=chosen)
    assert torch.isfinite(ref).all()  # a zeroed token's cosine: 0 with the others, 1 with itself (not 0/0)
    torch.testing.assert_close(deep_tiny[mode](x).dense, ref, rtol=1e-4, atol=1e-4)
    other_rule = {'keep': 'zero', 'zero': 'keep'}[ISOLATED_BY_MODE[mode]]
    other, _ = _self_calibrated_by_hand(deep_tiny[mode].clip_model, x, mode, outliers=chosen, isolated=other_rule)
    assert not torch.allclose(ref, other, atol=1e-3)  # the rule reaches the output


def test_self_calibrated_modes_refuse_depths_without_published_constants():
    with pytest.raises(ValueError, match='published constants'):
        CLIPViT(clip=TINY_CLIP, dense_mode='sc_clip')
