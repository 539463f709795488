"""ResCLIP, CLIPer (without FGC) and GEM (issue 24, item 3; docs/training_free.md §2) stage by stage against a plain
computation of each formula on the 12-block tiny CLIP: the tower run by hand from its weights (patch convolution,
bicubic positions, per-head attention, QuickGELU MLP), per-head dense matrices, explicit softmaxes, and Python
loops for the grid steps (Gaussian, patch majority, ResCLIP's path test and row blur). Nothing here calls the
modules' helpers; the modules' stages come out through ``CLIPViT(..., trace={})``."""
import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, TINY_CLIP
from reclip_mmseg.clip import CLIPFeatures, CLIPViT

DEEP_TINY = dict(model_name='reclip-tiny-deep', pretrained=None)  # 12 vision blocks as ViT-B, untrained
GRID = (10, 14)  # a 160 x 224 input: not square (raster order matters), positions resized bicubically
CLOSE = dict(rtol=1e-4, atol=1e-5)


@pytest.fixture(scope='module')
def image():
    torch.manual_seed(3)
    return torch.randn(1, 3, 16 * GRID[0], 16 * GRID[1])


# ------------------------------------------------------------------------------------------- the tower by hand
class Tower:
    """The tiny CLIP's image tower from its state dict. ``inputs[b]`` = the tokens entering block b + 1 (2-D,
    (1 + N, W), one image), ``attn[b][h]`` = block b + 1's attention softmax(s·q kᵀ) of head h, ``ln1[b]`` =
    LN1 of block b + 1's input."""

    def __init__(self, model, img):
        visual = model.visual
        self.sd = sd = {k: v.detach() for k, v in visual.state_dict().items()}
        self.L = len(visual.transformer.resblocks)
        self.W = W = sd['class_embedding'].shape[0]
        self.heads = visual.transformer.resblocks[0].attn.num_heads
        self.d = W // self.heads
        assert visual.conv1.bias is None
        x = F.conv2d(img, sd['conv1.weight'], stride=16)[0]  # (W, h, w)
        self.h, self.w = x.shape[-2:]
        pos = sd['positional_embedding']
        n = int(round(math.sqrt(pos.shape[0] - 1)))
        grid = pos[1:].t().reshape(1, W, n, n)
        grid = F.interpolate(grid, size=(self.h, self.w), mode='bicubic', align_corners=False)[0]
        tokens = (x + grid).flatten(1).t()
        X = self.ln(torch.cat([(sd['class_embedding'] + pos[0])[None], tokens]), 'ln_pre')
        self.inputs, self.attn, self.ln1 = [], [], []
        for b in range(self.L):
            self.inputs.append(X)
            if b == self.L - 1:
                break
            p = f'transformer.resblocks.{b}.'
            Y = self.ln(X, p + 'ln_1')
            q, k, v = self.qkv(b, Y)
            A = [torch.softmax(q[i] @ k[i].t() / math.sqrt(self.d), -1) for i in range(self.heads)]
            Z = X + self.out_proj(b, [A[i] @ v[i] for i in range(self.heads)])
            m = self.ln(Z, p + 'ln_2') @ sd[p + 'mlp.c_fc.weight'].t() + sd[p + 'mlp.c_fc.bias']
            X = Z + (m * torch.sigmoid(1.702 * m)) @ sd[p + 'mlp.c_proj.weight'].t() + sd[p + 'mlp.c_proj.bias']
            self.attn.append(A)
            self.ln1.append(Y)

    def ln(self, t, name):
        return F.layer_norm(t, (self.W,), self.sd[name + '.weight'], self.sd[name + '.bias'])

    def qkv(self, b, Y):
        """Per-head q, k, v lists of block b + 1 (0-indexed b) from the normalised tokens Y."""
        p = f'transformer.resblocks.{b}.'
        out = []
        for Wx, bx in zip(self.sd[p + 'attn.in_proj_weight'].split(self.W),
                          self.sd[p + 'attn.in_proj_bias'].split(self.W)):
            out.append([Y @ Wx[i * self.d:(i + 1) * self.d].t() + bx[i * self.d:(i + 1) * self.d]
                        for i in range(self.heads)])
        return out

    def out_proj(self, b, per_head):
        p = f'transformer.resblocks.{b}.'
        return torch.cat(per_head, -1) @ self.sd[p + 'attn.out_proj.weight'].t() + self.sd[p + 'attn.out_proj.bias']

    def features(self, Z):
        """Patch tokens (N, W) -> unit features (N, D)."""
        return F.normalize(self.ln(Z, 'ln_post') @ self.sd['proj'], dim=-1)

    def dense(self, Z):
        return self.features(Z).t().reshape(1, -1, self.h, self.w)

    def gaussian(self, sigma=5.0):
        N = self.h * self.w
        G = torch.zeros(N + 1, N + 1)
        for i in range(N):
            for j in range(N):
                (yi, xi), (yj, xj) = divmod(i, self.w), divmod(j, self.w)
                G[1 + i, 1 + j] = math.exp(-((yi - yj) ** 2 + (xi - xj) ** 2) / (2 * sigma ** 2))
        return G


# ------------------------------------------------------------------------------------------------- ResCLIP
def _pamr_ref(image, masks, iterations, dilations):
    """PAMR from its definition, by clamped index lookups (replicated borders): affinity −|I_i − I_j| / (0.1·σ_i)
    per channel (σ_i the unbiased std of the 9·|D| samples around i), averaged over channels, softmax over the
    8·|D| neighbours, then m_i ← Σ_j a_ij m_j."""
    _, _, H, W = image.shape
    ys, xs = torch.arange(H), torch.arange(W)

    def at(t, dy, dx):
        return t[:, :, (ys + dy).clamp(0, H - 1)][:, :, :, (xs + dx).clamp(0, W - 1)]
    nbrs = [(dy * d, dx * d) for d in dilations for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    samples = torch.stack([at(image, dy * d, dx * d) for d in dilations for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    sigma = samples.std(dim=0)
    aff = torch.stack([(-(at(image, *o) - image).abs() / (1e-8 + 0.1 * sigma)).mean(1) for o in nbrs])
    aff = torch.softmax(aff, dim=0)  # (8|D|, 1, H, W)
    m = masks
    for _ in range(iterations):
        m = sum(aff[n][:, None] * at(m, *o) for n, o in enumerate(nbrs))
    return m


def _sfr_ref(labels, h, w, sigma):
    """ResCLIP's SFR matrix, pair by pair: same label; the path test (points round(p_i + (k/D)(p_j − p_i)),
    k = 0..d_ij, Chebyshev d_ij, D = max(h, w) − 1, all of i's label, else × exp(−d_ij/D)); each row convolved
    with the normalised Gaussian of length min(N, int(6σ + 1)) made odd (zero padding); ReLU; rows / (sum + 1e-8)."""
    from fractions import Fraction
    N = h * w
    D = max(h, w) - 1
    M = np.zeros((N, N))
    for i in range(N):
        yi, xi = divmod(i, w)
        for j in range(N):
            yj, xj = divmod(j, w)
            if labels[i] != labels[j]:
                continue
            d = max(abs(yi - yj), abs(xi - xj))
            ok = all(labels[round(Fraction(yi * D + k * (yj - yi), D)) * w + round(Fraction(xi * D + k * (xj - xi), D))]
                     == labels[i] for k in range(d + 1))
            M[i, j] = 1.0 if ok else math.exp(-d / D)
    K = min(N, int(6 * sigma + 1))
    K = K if K % 2 else K + 1
    x = np.arange(K) - K // 2
    g = np.exp(-x ** 2 / (2 * sigma ** 2))
    g /= g.sum()
    S = np.stack([np.convolve(row, g, mode='same') for row in M])
    S = np.maximum(S, 0)
    return torch.from_numpy(S / (S.sum(1, keepdims=True) + 1e-8)).float(), M


def _resclip_by_hand(t: Tower, img, text, c, picks=None):
    """The two passes of ResCLIP; ``text=None`` takes the first pass's features at the patches ``picks``, minus
    their mean over the patches, as the class embeddings (so the labels form regions). Returns (stages, text)."""
    L, N, H = t.L, t.h * t.w, t.heads
    R = [sum(t.attn[b][i] for b in (5, 6, 7, 8)) / 4 for i in range(H)]  # blocks 6..9
    X = t.inputs[L - 1]
    q, k, v = t.qkv(L - 1, t.ln(X, f'transformer.resblocks.{L - 1}.ln_1'))
    G = t.gaussian(c['sigma']) if c['base'] == 'naclip' else torch.zeros(N + 1, N + 1)
    s = 1 / math.sqrt(t.d)
    base = [s * (k[i] @ k[i].t() if c['base'] == 'naclip' else q[i] @ q[i].t()) for i in range(H)]

    def tokens(A1):
        return t.out_proj(L - 1, [c['tau_r'] * ((1 - c['lambda_r']) * A1[i] + c['lambda_r'] * R[i]) @ v[i]
                                  for i in range(H)])[1:]
    first = tokens([torch.softmax(base[i] + G, -1) for i in range(H)])
    feats = t.features(first)
    if text is None:  # deviations from the mean feature: the untrained tower's features are all alike
        text = F.normalize(feats[picks] - feats.mean(0), dim=-1)
    logits = (feats @ F.normalize(text, dim=-1).t()).t().reshape(1, -1, t.h, t.w)
    up = F.interpolate(logits, size=img.shape[-2:], mode='bilinear', align_corners=False)
    probs = torch.softmax(c['logit_scale'] * _pamr_ref(img, up, 10, (8, 16)), dim=1)
    top, pixels = probs.max(1)
    pixels = torch.where(top < c['temp_thd'], torch.zeros_like(pixels), pixels)
    patches = []
    for y in range(t.h):
        for x in range(t.w):
            counts = Counter(pixels[0, 16 * y:16 * y + 16, 16 * x:16 * x + 16].flatten().tolist())
            top_count = max(counts.values())
            patches.append(min(lab for lab, n in counts.items() if n == top_count))
    S, M = _sfr_ref(patches, t.h, t.w, c['sigma'])
    Sp = torch.zeros(N + 1, N + 1)
    Sp[1:, 1:] = S / S.max()
    out = tokens([torch.softmax(c['tau_s'] * ((1 - c['lambda_s']) * base[i] + c['lambda_s'] * Sp) + G, -1)
                  for i in range(H)])
    stages = dict(rcs=torch.stack(R)[None], first_tokens=first[None], probabilities=probs, pixel_labels=pixels,
                  patch_labels=torch.tensor([patches]), sfr=S[None], dense=t.dense(out), first_dense=t.dense(first),
                  path_failures=int(((M > 0) & (M < 1)).sum()))
    return stages, text


RESCLIP = dict(tau_r=2.0, lambda_r=0.6, tau_s=2.1, lambda_s=0.6, temp_thd=0.55, sigma=5.0, logit_scale=40.0)


@pytest.fixture(scope='module')
def resclip_case(image):
    """One image's hand computation on the NACLIP base; its first pass gives the class embeddings (features at four
    patches), so that the labels form regions and the path test fails for some pairs."""
    model = CLIPViT(clip=DEEP_TINY, dense_mode='resclip', resclip=dict(base='naclip', **RESCLIP))
    t = Tower(model.clip_model, image)
    stages, text = _resclip_by_hand(t, image, None, dict(base='naclip', **RESCLIP), picks=[0, 27, 75, 139])
    return model, t, stages, text


@pytest.mark.parametrize('base', ['naclip', 'clearclip'])
def test_resclip_equals_its_two_passes_computed_by_hand_stage_by_stage(image, resclip_case, base):
    """R (blocks 6-9), the first pass, the PAMR-refined probabilities, the pixel and patch labels, the SFR matrix
    and the second pass, on the NACLIP base and on the ClearCLIP base (q-q logits, no Gaussian)."""
    model, t, stages, text = resclip_case
    c = dict(base=base, **RESCLIP)
    if base == 'clearclip':
        model = CLIPViT(clip=DEEP_TINY, dense_mode='resclip', resclip=c)
        stages, _ = _resclip_by_hand(t, image, text, c)
    trace = {}
    out = model(image, text=text, trace=trace)
    for key in ('rcs', 'first_tokens', 'probabilities', 'sfr'):
        torch.testing.assert_close(trace[key], stages[key], **CLOSE, msg=key)
    assert torch.equal(trace['pixel_labels'], stages['pixel_labels'])
    assert torch.equal(trace['patch_labels'], stages['patch_labels'])
    torch.testing.assert_close(out.dense, stages['dense'], **CLOSE)
    # the case exercises every branch: four labels (class 0 also from the threshold), failed path tests
    assert len(set(stages['patch_labels'].flatten().tolist())) >= 3 and stages['path_failures'] > 0
    assert 0 < float((stages['probabilities'].amax(1) < c['temp_thd']).float().mean()) < 0.5
    assert (out.dense - stages['first_dense']).abs().max() > 1e-3  # SFR changes the features
    rcs_only = CLIPViT(clip=DEEP_TINY, dense_mode='resclip', resclip=dict(c, sfr=False))
    assert not rcs_only.needs_text
    torch.testing.assert_close(rcs_only(image).dense, stages['first_dense'], **CLOSE)


def test_resclip_patch_majority_takes_the_smallest_label_and_the_path_test_steps_by_one_over_D():
    """The two grid rules the notes leave to code, on constructed labels: a 2-2 tie inside a patch goes to the
    smaller label; a pair nearer than D samples its segment only up to d²/D (1 x 13 grid, D = 12: the pair (0, 6)
    samples cells 0 0 1 2 2 2 3 and passes although cell 4 has another label; the pair (0, 8) reaches cell 4 and
    fails: exp(−8/12))."""
    from reclip_mmseg.clip.resclip import patch_labels, sfr_matrix
    pixels = torch.tensor([[[3, 1, 2, 2], [1, 3, 2, 0]]])  # two 2x2 patches: {3, 1, 1, 3} and {2, 2, 2, 0}
    assert patch_labels(pixels, 1, 2, 4).tolist() == [[1, 2]]
    labels = [0, 0, 0, 0, 1] + [0] * 8
    S_ref, M = _sfr_ref(labels, 1, 13, sigma=0.1)  # K = int(1.6) = 1: no blur
    assert M[0, 6] == 1.0 and M[0, 8] == pytest.approx(math.exp(-8 / 12)) and M[0, 4] == 0.0
    torch.testing.assert_close(sfr_matrix(torch.tensor([labels]), 1, 13, sigma=0.1), S_ref[None])


# -------------------------------------------------------------------------------------------------- CLIPer
def _cliper_by_hand(t: Tower, text, scale, thr):
    """A_Σ = Σ_{b<L} A_b per head; for k = 1..L: columns then rows of A_Σ normalised (accumulating), Â_k =
    rownorm(max(0, sym − colmean)); the last block's value/output projections on LN1_L(L_k) (L_k = LN1_k(X_k),
    L_L = X_L); P_k = softmax(scale·cos(F_k, [T; mean T]))[:C]; P_L thresholded at thr × its class max;
    scores = Āᵀ P_L + mean_k P_k."""
    L, H, C = t.L, t.heads, text.shape[0]
    A = [sum(t.attn[b][i] for b in range(L - 1)) for i in range(H)]
    attn_sum = torch.stack(A)[None]
    T = F.normalize(text, dim=-1)
    T = torch.cat([T, F.normalize(T.mean(0, keepdim=True), dim=-1)])
    p = f'transformer.resblocks.{L - 1}.'
    W, d = t.W, t.d
    Wv, bv = t.sd[p + 'attn.in_proj_weight'][2 * W:], t.sd[p + 'attn.in_proj_bias'][2 * W:]
    probs, fused = [], []
    for k, layer in enumerate(t.ln1 + [t.inputs[L - 1]]):
        Y = t.ln(layer, p + 'ln_1')
        per_head, fused_k = [], []
        for i in range(H):
            A[i] = A[i] / A[i].sum(0, keepdim=True)
            A[i] = A[i] / A[i].sum(1, keepdim=True)
            B = (A[i] + A[i].t()) / 2
            B = (B - B.mean(0, keepdim=True)).clamp(min=0)
            B = B / B.sum(1, keepdim=True)
            fused_k.append(B)
            per_head.append(B @ (Y @ Wv[i * d:(i + 1) * d].t() + bv[i * d:(i + 1) * d]))
        Z = t.out_proj(L - 1, per_head)[1:]
        probs.append(torch.softmax(scale * t.features(Z) @ T.t(), -1)[:, :C])
        fused.append(torch.stack(fused_k)[None])
    last = probs[-1]
    probs[-1] = torch.where(last < thr * last.max(0, keepdim=True).values, torch.zeros_like(last), last)
    Abar = fused[-1][0].mean(0)[1:, 1:]
    N = t.h * t.w
    prop = torch.stack([sum(Abar[i, j] * probs[-1][i] for i in range(N)) for j in range(N)])  # Q_j = Σ_i Ā_ij P_i
    scores = prop + sum(probs) / len(probs)
    return dict(attn_sum=attn_sum, fused_attention=fused, layer_probs=[q[None] for q in probs], scores=scores[None],
                dense=t.dense(Z))


def test_cliper_equals_its_layer_fusion_computed_by_hand_stage_by_stage(image):
    """A_Σ, the fused attention after k rounds (k = 1, 6, 12), each layer's class probabilities, the propagated and
    averaged scores, and the outputs: the class scores (B, C, h, w) and the last layer's feature."""
    c = dict(logit_scale=100.0, attention_thr=0.2)
    model = CLIPViT(clip=DEEP_TINY, dense_mode='cliper', cliper=c)
    t = Tower(model.clip_model, image)
    text = F.normalize(torch.randn(5, 64, generator=torch.Generator().manual_seed(4)), dim=-1)
    ref = _cliper_by_hand(t, text, c['logit_scale'], c['attention_thr'])
    trace = {}
    out = model(image, text=text, trace=trace)
    torch.testing.assert_close(trace['attn_sum'], ref['attn_sum'], **CLOSE)
    for k in (0, 5, 11):  # tight: the rounds after the first change the entries by ~1e-5 only
        torch.testing.assert_close(trace['fused_attention'][k], ref['fused_attention'][k], rtol=1e-5, atol=5e-7)
    for k in range(12):
        torch.testing.assert_close(trace['layer_probs'][k], ref['layer_probs'][k], **CLOSE)
    torch.testing.assert_close(trace['scores'], ref['scores'], **CLOSE)
    torch.testing.assert_close(out.scores, ref['scores'].transpose(1, 2).reshape(1, 5, *GRID), **CLOSE)
    torch.testing.assert_close(out.dense, ref['dense'], **CLOSE)
    assert float((ref['layer_probs'][-1] == 0).float().mean()) > 0.05  # the threshold acts
    # the in-place normalisation accumulates: layer 12's attention is not layer 1's (by far more than the tolerance)
    assert (ref['fused_attention'][11] - ref['fused_attention'][0]).abs().max() > 1e-5


# ----------------------------------------------------------------------------------------------------- GEM
def _gem_by_hand(t: Tower, blocks=6, iterations=1):
    """The GEM path from X_{L-n+1}: per block, Y = LN1_b(X_b) of CLIP's own path, τ = mean_t ‖Y_t‖ / √d, per head
    and z ∈ {v, k, q}: ``iterations`` × (ẑ = z/‖z‖, z ← softmax(τẑẑᵀ)ẑ), then A_z = softmax(τẑẑᵀ) on the
    renormalised z, out = mean_z A_z v; X_gem += out_proj(out)."""
    L, H = t.L, t.heads
    X = t.inputs[L - blocks]
    temps, path = [], []
    for b in range(L - blocks, L):
        Y = t.ln(t.inputs[b], f'transformer.resblocks.{b}.ln_1')
        tau = float(Y.norm(dim=1).mean()) / math.sqrt(t.d)
        q, k, v = t.qkv(b, Y)
        per_head = []
        for i in range(H):
            outs = []
            for z in (v[i], k[i], q[i]):
                for _ in range(iterations):
                    zn = z / z.norm(dim=1, keepdim=True)
                    z = torch.softmax(tau * zn @ zn.t(), -1) @ zn
                zn = z / z.norm(dim=1, keepdim=True)
                outs.append(torch.softmax(tau * zn @ zn.t(), -1) @ v[i])
            per_head.append(sum(outs) / 3)
        X = X + t.out_proj(b, per_head)
        temps.append(tau)
        path.append(X)
    return temps, path, t.dense(X[1:])


@pytest.mark.parametrize('gem', [dict(), dict(blocks=3, iterations=2)])
def test_gem_equals_its_self_self_path_computed_by_hand_stage_by_stage(image, gem):
    """Each block's adaptive temperature, the GEM path after each block, and the dense output; GEM's defaults
    (the last 6 blocks, one iteration) and another setting."""
    model = CLIPViT(clip=DEEP_TINY, dense_mode='gem', gem=gem)
    t = Tower(model.clip_model, image)
    temps, path, dense = _gem_by_hand(t, **gem)
    trace = {}
    out = model(image, trace=trace)
    assert len(trace['temperatures']) == len(temps) == gem.get('blocks', 6)
    for ours, ref in zip(trace['temperatures'], temps):
        assert float(ours) == pytest.approx(ref, rel=1e-5)
    for ours, ref in zip(trace['gem_path'], path):
        torch.testing.assert_close(ours[0], ref, **CLOSE)
    torch.testing.assert_close(out.dense, dense, **CLOSE)


# ------------------------------------------------------------------------------ wiring, errors, configs
def test_depths_and_settings_without_published_constants_are_refused():
    with pytest.raises(ValueError, match=r"'resclip' has RCS blocks for ViTs of \[12, 24\] blocks, not 2: set "
                                         r"model\.backbone\.resclip\.rcs_blocks"):
        CLIPViT(clip=TINY_CLIP, dense_mode='resclip')
    with pytest.raises(ValueError, match=r"'gem' runs its path through the last 6 blocks.*has 2 blocks"):
        CLIPViT(clip=TINY_CLIP, dense_mode='gem')
    with pytest.raises(ValueError, match=r"model\.backbone\.resclip\.base.*\('naclip', 'clearclip'\), got 'sclip'"):
        CLIPViT(clip=DEEP_TINY, dense_mode='resclip', resclip=dict(base='sclip'))
    with pytest.raises(ValueError, match=r"model\.backbone\.cliper\): unknown keys \['attention_threshold'\]"):
        CLIPViT(clip=DEEP_TINY, dense_mode='cliper', cliper=dict(attention_threshold=0.1))
    with pytest.raises(ValueError, match='needs the class embeddings'):
        CLIPViT(clip=DEEP_TINY, dense_mode='cliper')(torch.randn(1, 3, 32, 32))


def test_the_segmentor_passes_its_heads_class_embeddings_and_only_maskclips_head_takes_class_scores():
    """CLIPSegmentor.extract_feat gives a 'resclip' / 'cliper' backbone the head's Query embeddings; MaskCLIPHead's
    logits are CLIPer's scores; a head that reads the feature refuses them."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    x = torch.randn(1, 3, 64, 96)
    for mode in ('resclip', 'cliper'):
        cfg = Config.fromfile(f'{ROOT}/configs/training_free/{mode}_vit-b16_voc20.py').model
        cfg.backbone.clip = dict(DEEP_TINY)
        cfg.decode_head.text_encoder.clip = dict(DEEP_TINY)
        seg = MODELS.build(cfg).eval()
        with torch.no_grad():
            feats = seg.extract_feat(x)
            ref = seg.backbone(x, text=seg.decode_head.query_embeds)
            torch.testing.assert_close(feats.dense, ref.dense)
            logits = seg.decode_head(feats)
        assert logits.shape == (1, 20, 4, 6)
        if mode == 'cliper':
            torch.testing.assert_close(logits, ref.scores)
            with pytest.raises(ValueError, match='only MaskCLIPHead uses them'):
                super(type(seg.decode_head), seg.decode_head)._features(feats)
        else:
            torch.testing.assert_close(logits, seg.decode_head.query_logits(ref.dense))
    assert CLIPFeatures(torch.zeros(1), torch.zeros(1), None).scores is None


# ResCLIP@0e085f7 configs/cfg_*.py (temp_thd, tau_r, lambda_r, tau_s, lambda_s) and CLIPer@c05fa41
# scripts/config/vit-b-16/ovs_*.yaml (logit scale, attention_thr); COCO-Stuff-27 (unpublished) takes COCO-Stuff-171's
RESCLIP_ROWS = {'voc21': (0.50, 2.0, 0.3, 2.2, 0.7), 'context60': (0.30, 2.0, 0.3, 1.8, 0.7),
                'cocoobject': (0.11, 2.0, 0.4, 1.8, 0.7), 'voc20': (0.10, 2.0, 0.6, 2.1, 0.6),
                'context59': (0.25, 2.0, 0.4, 1.8, 0.7), 'cocostuff171': (0.11, 2.0, 0.4, 1.8, 0.7),
                'cityscapes': (0.10, 2.0, 0.2, 2.1, 0.6), 'ade20k': (0.25, 2.0, 0.3, 2.1, 0.7),
                'cocostuff27': (0.11, 2.0, 0.4, 1.8, 0.7)}
CLIPER_ROWS = {'voc21': (100.0, 0.1), 'context60': (100.0, 0.2), 'cocoobject': (50.0, 0.2), 'voc20': (100.0, 0.1),
               'context59': (100.0, 0.2), 'cocostuff171': (50.0, 0.2), 'cityscapes': (100.0, 0.35),
               'ade20k': (100.0, 0.2), 'cocostuff27': (50.0, 0.2)}


def test_each_dataset_config_carries_the_releases_constants():
    from mmengine.config import Config
    for d, (temp, tau_r, lam_r, tau_s, lam_s) in RESCLIP_ROWS.items():
        r = Config.fromfile(f'{ROOT}/configs/training_free/resclip_vit-b16_{d}.py').model.backbone.resclip
        assert dict(r) == dict(base='naclip', tau_r=tau_r, lambda_r=lam_r, tau_s=tau_s, lambda_s=lam_s,
                               temp_thd=temp), d
    for d, (scale, thr) in CLIPER_ROWS.items():
        c = Config.fromfile(f'{ROOT}/configs/training_free/cliper_vit-b16_{d}.py').model.backbone.cliper
        assert dict(c) == dict(logit_scale=scale, attention_thr=thr), d
        g = Config.fromfile(f'{ROOT}/configs/training_free/gem_vit-b16_{d}.py').model.backbone.gem
        assert dict(g) == dict(blocks=6, iterations=1, temperature=None), d
