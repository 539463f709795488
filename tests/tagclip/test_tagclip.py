"""TagCLIP (docs/tagclip.md): every formula against an independent computation, the trainable set, the configs, an
offline end-to-end run and the synthetic zero-shot experiment."""
import glob
import json
import math
import os
import shutil

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import DETERMINISTIC_ENV, ROOT, run_tool, tiny_tagclip_options
from synthetic import make_voc_tree

TINY_DEEP = dict(model_name='reclip-tiny-deep', pretrained=None)
NAMES = ['cat', 'dog', 'car', 'tree', 'sky']


def build_head(**kw):
    cfg = dict(type='TagCLIPHead', class_names=NAMES, unseen_idx=[1, 3],
               text_encoder=dict(type='OpenCLIPTextEncoder', clip=TINY_DEEP, templates='zegclip_single',
                                 use_prompt_names=False, cache_dir=False))
    cfg.update(kw)
    return MODELS.build(cfg)


def build_backbone(**kw):
    return MODELS.build(dict(type='VPTCLIPViT', clip=TINY_DEEP, num_tokens=3, **kw))


def focal_ref(x, y, alpha=0.25, gamma=2.0):
    """Sigmoid focal loss written from its formula, element-wise (float64)."""
    x, y = x.double(), y.double()
    p = 1 / (1 + torch.exp(-x))
    ce = -(y * torch.log(p) + (1 - y) * torch.log(1 - p))
    p_t = p * y + (1 - p) * (1 - y)
    a_t = alpha * y + (1 - alpha) * (1 - y)
    return a_t * (1 - p_t) ** gamma * ce


# ----------------------------------------------------------------------------------------------- decoder parts
def test_relationship_descriptor_matches_the_formula():
    from reclip_mmseg.models.tagclip import RelationshipDescriptor
    torch.manual_seed(0)
    rd = RelationshipDescriptor(6)
    g, t = torch.randn(2, 6), torch.randn(4, 6)
    out = rd(g, t)
    W, b = rd.proj.weight.detach().double(), rd.proj.bias.detach().double()
    for i in range(2):
        for j in range(4):
            vec = torch.cat([g[i] * t[j], t[j]]).double()
            torch.testing.assert_close(out[i, j].double(), W @ vec + b, rtol=1e-5, atol=1e-6)


def test_atm_layer_masks_are_head_averaged_scaled_qk_and_output_is_post_norm():
    from reclip_mmseg.models.tagclip import ATMDecoderLayer
    torch.manual_seed(0)
    D, H = 16, 4
    layer = ATMDecoderLayer(D, H, 32, dropout=0.1, self_attn=True).eval()
    x, mem = torch.randn(2, 3, D), torch.randn(2, 5, D)
    out, logits = layer(x, mem)

    def lin(m, v):
        return v @ m.weight.T + m.bias

    def ln(m, v):
        return F.layer_norm(v, (D,), m.weight, m.bias, m.eps)

    d = D // H
    # query self-attention from nn.MultiheadAttention's packed weights, one head at a time
    Wi, bi = layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias
    q, k, v = (x @ Wi[i * D:(i + 1) * D].T + bi[i * D:(i + 1) * D] for i in range(3))
    heads = [torch.softmax(q[..., h * d:(h + 1) * d] @ k[..., h * d:(h + 1) * d].transpose(1, 2) / math.sqrt(d), -1)
             @ v[..., h * d:(h + 1) * d] for h in range(H)]
    sa = lin(layer.self_attn.out_proj, torch.cat(heads, -1))
    y = ln(layer.norm1, x + sa)
    ca = layer.cross_attn
    q, k, v = lin(ca.q, y), lin(ca.k, mem), lin(ca.v, mem)
    expected_logits = torch.zeros(2, 3, 5)
    outs = []
    for h in range(H):
        s = q[..., h * d:(h + 1) * d] @ k[..., h * d:(h + 1) * d].transpose(1, 2) / math.sqrt(d)
        expected_logits += s / H
        outs.append(torch.softmax(s, -1) @ v[..., h * d:(h + 1) * d])
    y = ln(layer.norm2, y + lin(ca.proj, torch.cat(outs, -1)))
    y = ln(layer.norm3, y + lin(layer.linear2, torch.relu(lin(layer.linear1, y))))
    torch.testing.assert_close(logits, expected_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out, y, rtol=1e-4, atol=1e-5)
    # 'cross' layers have no self-attention at all (nothing untrained hangs around)
    plain = ATMDecoderLayer(D, H, 32, 0.1, self_attn=False)
    assert not hasattr(plain, 'self_attn') and not hasattr(plain, 'norm1')


def test_head_uses_last_layer_masks_with_trusty_token_last():
    head = build_head().eval()
    torch.manual_seed(1)
    dense = F.normalize(torch.randn(2, head.embed_dim, 3, 4), dim=1)
    g = F.normalize(torch.randn(2, head.embed_dim), dim=1)
    logits = head.mask_logits((dense, g))
    assert logits.shape == (2, len(NAMES) + 1, 3, 4)
    tokens = torch.cat([head.query_embeds, head.trusty_token])
    x = head.relationship(g, tokens)
    mem = dense.flatten(2).transpose(1, 2)
    for layer in head.layers:
        x, last = layer(x, mem)
    torch.testing.assert_close(logits, last.reshape(2, -1, 3, 4))
    # training forward (inductive): the seen classes' queries only, then the trusty token
    head.train(False)
    assert head.forward((dense, g)).shape[1] == 3 + 1
    assert [t == 'self+cross' for t in head.layer_types] == [True, False, False]


def test_scores_calibration_and_gating_formula():
    head = build_head()
    torch.manual_seed(2)
    logits = torch.randn(1, len(NAMES) + 1, 2, 3)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    for mode in ('both', 'seen', 'unseen', 'none'):
        head.trusty_eval = mode
        scores = head.scores(logits)
        for c in range(len(NAMES)):
            for y in range(2):
                for x in range(3):
                    w = sig(float(logits[0, -1, y, x]))
                    seen = c not in (1, 3)
                    p = sig(float(logits[0, c, y, x])) - (0.1 if seen else 0.0)
                    if seen and mode in ('both', 'seen'):
                        p *= 1 - w
                    if not seen and mode in ('both', 'unseen'):
                        p *= w
                    assert abs(float(scores[0, c, y, x]) - p) < 1e-6, (mode, c)
    # w = 0.5 everywhere: the calibrated sigmoids halved (docs/tagclip.md §8.5)
    head.trusty_eval = 'both'
    logits[:, -1] = 0
    expected = (logits[:, :-1].sigmoid() - 0.1 * torch.tensor([1., 0, 1, 0, 1])[:, None, None]) * 0.5
    torch.testing.assert_close(head.scores(logits), expected)


def test_head_rejects_bad_settings_by_name():
    with pytest.raises(ValueError, match='unseen_idx'):
        build_head(unseen_idx=[7])
    with pytest.raises(ValueError, match="trusty_eval='none'"):
        build_head(use_trusty=False)
    with pytest.raises(ValueError, match='trusty_target'):
        build_head(trusty_target='seen')
    with pytest.raises(ValueError, match='layer_types'):
        build_head(layer_types=('self',))


# --------------------------------------------------------------------------------------------- targets, losses
def raw_labels():
    raw = torch.tensor([[[0, 1, 2, 3, 4, 255]], [[4, 4, 1, 255, 0, 3]]])  # (2, 1, 6): 5 classes, 255 ignored
    return raw


def test_inductive_remap_and_trusty_targets():
    raw = raw_labels()
    head = build_head()
    target, u = head.training_targets(raw, torch.zeros(2, 3, 1, 6))
    remap = {0: 0, 2: 1, 4: 2}  # seen classes 0, 2, 4 -> training channels 0, 1, 2; the rest ignored
    expected = torch.tensor([[[remap.get(int(v), 255) for v in row] for row in img] for img in raw])
    assert torch.equal(target, expected)
    assert torch.equal(u, (raw == 1) | (raw == 3))  # 'unseen_gt': 1 exactly on raw-unseen pixels
    strict = build_head(trusty_target='not_seen')
    _, u = strict.training_targets(raw, torch.zeros(2, 3, 1, 6))
    assert torch.equal(u, ~((raw == 0) | (raw == 2) | (raw == 4)))  # every non-seen pixel, ignored ones too


def test_transductive_pseudo_labels_pick_the_most_likely_unseen_class():
    raw = raw_labels()
    head = build_head(self_training=True, seen_bias=0.0, trusty_eval='none', use_trusty=False)
    torch.manual_seed(3)
    logits = torch.randn(2, len(NAMES), 1, 6)
    target, u = head.training_targets(raw, logits)
    assert u is None
    for b in range(2):
        for p in range(6):
            v = int(raw[b, 0, p])
            if v in (1, 3):
                want = 1 if logits[b, 1, 0, p] > logits[b, 3, 0, p] else 3
            else:
                want = v  # seen keep their ids, 255 stays 255
            assert int(target[b, 0, p]) == want


def test_losses_on_hand_made_cases():
    from reclip_mmseg.models.tagclip import TagCLIPCriterion
    crit = TagCLIPCriterion()
    torch.manual_seed(4)
    # (1) a 255-only target: every class is a negative, no dice term, N_m clamps to 1
    x = torch.randn(2, 3, 4, 4)
    t = torch.full((2, 4, 4), 255)
    m, u = torch.randn(2, 1, 4, 4), torch.zeros(2, 4, 4)
    losses = crit(x, t, m, u)
    expected = 20 * sum(float(focal_ref(x[b, c], torch.zeros(4, 4)).mean()) for b in range(2) for c in range(3))
    assert abs(float(losses['loss_mask']) - expected) < 1e-4
    assert float(losses['loss_dice']) == 0.0
    expected_trusty = 10 * sum(float(focal_ref(m[b, 0], u[b]).mean()) for b in range(2))
    assert abs(float(losses['loss_trusty']) - expected_trusty) < 1e-4
    # (2) image 0 has classes 0 and 2, image 1 has class 1 and ignored pixels: N_m = 3, dice over those 3 only
    t = torch.zeros(2, 4, 4, dtype=torch.long)
    t[0, :, 2:] = 2
    t[1] = 1
    t[1, 0] = 255
    u = (torch.rand(2, 4, 4) > 0.5).float()
    losses = crit(x, t, m, u)
    n_m = 3
    focal, dice = 0.0, 0.0
    for b in range(2):
        for c in range(3):
            y = (t[b] == c).float()
            focal += float(focal_ref(x[b, c], y).mean())
            if y.sum() > 0:
                p = torch.sigmoid(x[b, c].double())
                dice += 1 - float((2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1))
    assert abs(float(losses['loss_mask']) - 20 * focal / n_m) < 1e-4
    assert abs(float(losses['loss_dice']) - dice / n_m) < 1e-5
    trusty = sum(float(focal_ref(m[b, 0], u[b]).mean()) for b in range(2))
    assert abs(float(losses['loss_trusty']) - 10 * trusty / n_m) < 1e-4


# ------------------------------------------------------------------------------------------------ backbone
def test_vpt_backbone_matches_a_reference_forward():
    torch.manual_seed(5)
    bb = build_backbone(img_size=224).eval()  # the tiny CLIP's own 14 x 14 grid at 224 px
    visual = bb.clip_model.visual
    img = torch.randn(2, 3, 224, 160)  # grid 14 x 10: positions resized bilinearly
    feats = bb(img)
    dense, g = feats.dense, feats.global_embed
    # reference, written from docs/tagclip.md §2.1 with the tower's modules
    x = visual.conv1(img).flatten(2).transpose(1, 2)  # (2, 140, W)
    pos = visual.positional_embedding
    grid = pos[1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    patch_pos = F.interpolate(grid, size=(14, 10), mode='bilinear', align_corners=False)
    x = x + patch_pos.flatten(2).transpose(1, 2)
    cls = 2 * visual.class_embedding + pos[0]  # the release's doubled class embedding
    x = visual.ln_pre(torch.cat([cls.expand(2, 1, -1), x], 1))
    prompts = [bb.prompt_proj(bb.prompt_embeddings[0])] + [bb.prompt_proj(p) for p in bb.deep_prompt_embeddings]
    x = torch.cat([x[:, :1], prompts[0].expand(2, -1, -1), x[:, 1:]], 1)
    for i, block in enumerate(visual.transformer.resblocks):
        if i > 0:
            x = torch.cat([x[:, :1], prompts[i].expand(2, -1, -1), x[:, 4:]], 1)
        x = block(x)
    x = visual.ln_post(bb.prompt_norm(x)) @ visual.proj
    torch.testing.assert_close(g, x[:, 0], rtol=1e-4, atol=1e-5)  # CLIPFeatures: the global embedding unnormalised
    torch.testing.assert_close(dense, F.normalize(x[:, 4:], dim=-1).transpose(1, 2).reshape(2, -1, 14, 10),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(feats.pos, patch_pos)  # P as CLIPViT gives it: (1, W, h, w)
    assert torch.allclose(dense.norm(dim=1), torch.ones(2, 14, 10), atol=1e-5)


def test_gradients_reach_exactly_prompts_and_head_and_clip_stays_frozen():
    torch.manual_seed(6)
    bb, head = build_backbone(), build_head()
    clip_before = {k: v.clone() for k, v in bb.clip_model.state_dict().items()}
    params = [p for m in (bb, head) for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=1e-2)
    raw = torch.randint(0, 5, (2, 64, 64))
    raw[:, :5] = 255
    samples = [SegDataSample(gt_sem_seg=PixelData(data=r[None])) for r in raw]
    losses = head.loss(bb(torch.randn(2, 3, 64, 64)), samples, None)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    trainable = {n for m, pre in ((bb, 'backbone.'), (head, 'head.')) for n, p in m.named_parameters(prefix=pre[:-1])
                 if p.grad is not None and p.grad.abs().sum() > 0}
    # Only the last layer's attention logits are used, so its value/output projections, FFN and norms get no
    # gradient: dead weights in the release as well (counted in its 11.72 M; DDP runs with unused parameters).
    last = len(head.layers) - 1
    dead = {f'head.layers.{last}.{n}' for n, _ in head.layers[last].named_parameters()
            if not n.startswith(('cross_attn.q.', 'cross_attn.k.'))}
    expected = {f'backbone.{n}' for n, _ in bb.named_parameters()} | {f'head.{n}' for n, _ in head.named_parameters()}
    assert trainable == expected - dead
    assert len(dead) == 12  # v, proj, linear1, linear2, norm2, norm3: weight and bias each
    assert all('prompt' in n for n, _ in bb.named_parameters())
    assert not any(p.requires_grad for p in bb.clip_model.parameters())
    opt.step()
    for k, v in bb.clip_model.state_dict().items():
        assert torch.equal(v, clip_before[k]), k


def test_vit_b16_trainable_parameter_count_and_initialisation():
    clip = dict(model_name='ViT-B-16', pretrained=None, allow_random_weights=True)
    head = MODELS.build(dict(type='TagCLIPHead', class_names='voc20', unseen_idx=[15, 16, 17, 18, 19],
                             text_encoder=dict(type='OpenCLIPTextEncoder', clip=clip, templates='zegclip_single',
                                               use_prompt_names=False, cache_dir=False)))
    counts = {}
    for n in (10, 100):
        bb = MODELS.build(dict(type='VPTCLIPViT', clip=clip, num_tokens=n))
        counts[n] = sum(p.numel() for m in (bb, head) for p in m.parameters() if p.requires_grad)
    assert round(counts[10] / 1e6, 2) == 11.72 and round(counts[100] / 1e6, 2) == 12.55, counts
    assert bb.prompt_init_bound == 0.0625
    assert bb.deep_prompt_embeddings.shape == (11, 100, 768)
    assert bb.prompt_embeddings.abs().max() <= 0.0625 and bb.deep_prompt_embeddings.abs().max() <= 0.0625
    assert head.trusty_token.abs().max() <= math.sqrt(6 / 513)  # xavier over (1, 512)
    assert head.relationship.proj.weight.shape == (512, 1024)
    assert head.layers[0].linear1.out_features == 2048 and head.layers[0].cross_attn.num_heads == 8


def test_raw_names_for_tagclip_text():
    head = build_head(class_names='voc20', unseen_idx=[15, 16, 17, 18, 19])
    assert head.text_encoder.prompt_text('pottedplant') == 'pottedplant'
    assert head.text_encoder.templates == ('a photo of a {}',)
    from reclip_mmseg.clip import TEMPLATE_SETS
    assert len(TEMPLATE_SETS['zegclip15']) == 15


# ------------------------------------------------------------------------------------------------- metric
def test_zero_shot_metric_against_hand_counted_ious():
    from reclip_mmseg.evaluation import ZeroShotIoUMetric, harmonic_iou
    assert round(harmonic_iou(93.5, 85.2), 2) == 89.16
    metric = ZeroShotIoUMetric(unseen_idx=[2, 3])
    metric.dataset_meta = dict(classes=('a', 'b', 'c', 'd'))
    pred = torch.tensor([[0, 0, 1, 1, 2, 2, 3, 0]])
    gt = torch.tensor([[0, 1, 1, 1, 2, 3, 3, 255]])
    sample = dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt))
    metric.process([], [sample])
    res = metric.compute_metrics(metric.results)
    iou = {}
    valid = gt != 255
    for c in range(4):
        inter = ((pred == c) & (gt == c) & valid).sum().item()
        union = (((pred == c) & valid) | (gt == c)).sum().item()
        iou[c] = inter / union
    s, u = (iou[0] + iou[1]) / 2 * 100, (iou[2] + iou[3]) / 2 * 100
    assert res['mIoU(S)'] == round(s, 2) and res['mIoU(U)'] == round(u, 2)
    assert res['hIoU'] == round(2 * s * u / (s + u), 2)
    assert res['mIoU'] == round(sum(iou.values()) / 4 * 100, 2)
    assert res['aAcc'] == round(((pred == gt) & valid).sum().item() / valid.sum().item() * 100, 2)
    with pytest.raises(ValueError, match='unseen_classes'):
        bad = ZeroShotIoUMetric(unseen_classes=['zebra'])
        bad.dataset_meta = dict(classes=('a', 'b'))
        bad._unseen(['a', 'b'])


# ------------------------------------------------------------------------------------------------ configs
CONFIGS = sorted(glob.glob(os.path.join(ROOT, 'configs', 'tagclip', '*.py')))


def test_config_family_constants():
    assert len(CONFIGS) == 12
    cfgs = {os.path.basename(p)[:-3]: Config.fromfile(p) for p in CONFIGS}
    voc = cfgs['tagclip-inductive_vpt-vit-b16_20k_voc20']
    coco = cfgs['tagclip-inductive_vpt-vit-b16_80k_cocostuff171']
    for cfg, tokens, unseen, iters, templates in (
            (voc, 10, [15, 16, 17, 18, 19], 20000, 'zegclip_single'),
            (coco, 100, [19, 23, 28, 29, 36, 51, 76, 88, 94, 112, 133, 136, 137, 157, 160], 80000, 'zegclip15')):
        h, b = cfg.model.decode_head, cfg.model.backbone
        assert b.num_tokens == tokens and b.deep_prompt_layers == 11 and b.prompt_dropout == 0.1
        assert h.unseen_idx == unseen and cfg.test_evaluator.unseen_idx == unseen
        assert h.text_encoder.templates == templates and h.text_encoder.use_prompt_names is False
        assert (h.seen_bias, h.trusty_eval, h.trusty_target) == (0.1, 'both', 'unseen_gt')
        loss = h.loss_decode
        assert (loss.mask_weight, loss.dice_weight, loss.trusty_weight) == (20.0, 1.0, 10.0)
        sched, = cfg.param_scheduler  # mmcv 1.x's warm-up x poly (tests/tagclip/test_tagclip_release.py)
        assert sched.type == 'WarmupPolyLR' and cfg.train_cfg.max_iters == iters and sched.end == iters
        assert (sched.warmup_iters, sched.warmup_ratio, sched.power, sched.eta_min) == (1500, 1e-6, 0.9, 1e-6)
        assert cfg.optim_wrapper.optimizer.lr == 2e-5 and cfg.optim_wrapper.optimizer.weight_decay == 0.01
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        assert keys.backbone.lr_mult == 10 and keys.head.lr_mult == 10 and keys.text_encoder.lr_mult == 0
        assert cfg.model.test_cfg == dict(mode='slide', crop_size=(512, 512), stride=(426, 426))
        assert cfg.model.data_preprocessor.mean == [123.675, 116.28, 103.53]
        assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfgs['tagclip-inductive-strict_vpt-vit-b16_20k_voc20'].model.decode_head.trusty_target == 'not_seen'
    trans = cfgs['tagclip-transductive_vpt-vit-b16_10k_voc20']
    assert trans.model.decode_head.self_training and trans.model.decode_head.seen_bias == 0.0
    assert trans.load_from.endswith('tagclip-inductive_vpt-vit-b16_20k_voc20/iter_10000.pth') and trans.train_cfg.max_iters == 10000
    ctrans = cfgs['tagclip-transductive_vpt-vit-b16_40k_cocostuff171']
    assert ctrans.load_from.endswith('tagclip-inductive_vpt-vit-b16_80k_cocostuff171/iter_40000.pth') and ctrans.train_dataloader.batch_size == 1
    zeg = cfgs['zegclip-inductive_vpt-vit-b16_20k_voc20'].model.decode_head
    assert not zeg.use_trusty and zeg.layer_types == ('cross', 'cross', 'cross')
    for name in ('tagclip_vpt-vit-b16_coco2voc20', 'tagclip_vpt-vit-b16_coco2context60'):
        h = cfgs[name].model.decode_head
        assert (h.use_trusty, h.seen_bias, cfgs[name].model.backbone.num_tokens) == (False, 0.0, 100)


@pytest.mark.parametrize('name', ['tagclip-inductive_vpt-vit-b16_80k_cocostuff171', 'tagclip_vpt-vit-b16_coco2context60'])
def test_configs_build_with_the_tiny_clip(name):
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'tagclip', name + '.py'))
    cfg.model.backbone.clip = TINY_DEEP
    cfg.model.decode_head.text_encoder.clip = TINY_DEEP
    cfg.model.decode_head.text_encoder.cache_dir = False
    model = MODELS.build(cfg.model)
    assert model.decode_head.num_classes == {'tagclip-inductive_vpt-vit-b16_80k_cocostuff171': 171,
                                             'tagclip_vpt-vit-b16_coco2context60': 60}[name]


# ---------------------------------------------------------------------------------------------- end to end
@pytest.mark.slow  # two TagCLIP training runs (~40 s); CI keeps train -> test -> transductive below
def test_train_resumes_to_the_uninterrupted_parameters(tmp_path):
    voc = make_voc_tree(str(tmp_path / 'data'), n_train=3, n_val=2, n_aug=2)
    config = 'configs/tagclip/tagclip-inductive_vpt-vit-b16_20k_voc20.py'
    work, whole = str(tmp_path / 'work'), str(tmp_path / 'whole')
    opts = tiny_tagclip_options(voc, iters=4, interval=2)
    # killed after iteration 2, resumed to 4: the same parameters as an uninterrupted run, although prompt and
    # decoder dropout draw from torch's generator (IterationSeedHook) and validation ran in between
    run_tool('tools/train.py', config, '--work-dir', whole, '--cfg-options', *opts, env=DETERMINISTIC_ENV)
    os.makedirs(work)  # what a run killed during iteration 3 leaves: its iteration-2 checkpoint
    shutil.copy(os.path.join(whole, 'iter_2.pth'), work)
    with open(os.path.join(work, 'last_checkpoint'), 'w') as f:
        f.write(os.path.join(work, 'iter_2.pth'))
    run_tool('tools/train.py', config, '--work-dir', work, '--resume', '--cfg-options', *opts,
             env=DETERMINISTIC_ENV)
    a, b = (torch.load(os.path.join(d, 'iter_4.pth'), map_location='cpu', weights_only=False)['state_dict']
            for d in (whole, work))
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])]
    mid = torch.load(os.path.join(work, 'iter_2.pth'), map_location='cpu', weights_only=False)['state_dict']
    assert not torch.equal(mid['backbone.prompt_embeddings'], a['backbone.prompt_embeddings'])


def test_train_test_then_transductive_offline(tmp_path):
    voc = make_voc_tree(str(tmp_path / 'data'), n_train=3, n_val=2, n_aug=2)
    config = 'configs/tagclip/tagclip-inductive_vpt-vit-b16_20k_voc20.py'
    work = str(tmp_path / 'work')
    opts = tiny_tagclip_options(voc, iters=2, interval=2)
    run_tool('tools/train.py', config, '--work-dir', work, '--cfg-options', *opts)
    ckpt = os.path.join(work, 'iter_2.pth')
    proc = run_tool('tools/test.py', config, ckpt, '--work-dir', str(tmp_path / 'test'), '--cfg-options', *opts)
    found = glob.glob(str(tmp_path / 'test' / '2*' / '2*.json'))  # the metrics file the runner wrote
    assert len(found) == 1, found
    metrics = json.load(open(found[0]))
    assert all(math.isfinite(metrics[k]) for k in ('mIoU(S)', 'mIoU(U)', 'hIoU')), metrics
    assert 'pottedplant | unseen' in proc.stdout + proc.stderr  # the per-class table marks the split
    # the transductive stage starts from the inductive checkpoint (its trusty token is dropped, non-strict)
    trans = 'configs/tagclip/tagclip-transductive_vpt-vit-b16_10k_voc20.py'
    run_tool('tools/train.py', trans, '--work-dir', str(tmp_path / 'trans'), '--cfg-options', *opts,
             f'load_from={ckpt}')
    state = torch.load(os.path.join(tmp_path, 'trans', 'iter_2.pth'), map_location='cpu', weights_only=False)
    assert not any('trusty' in k for k in state['state_dict'])


def test_synthetic_zero_shot_experiment_learns_the_trusty_map():
    import sys
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    from tagclip_synthetic import run
    result = run(iters=150, seed=0)
    before, after = result['before'], result['after']
    assert after['trusty_auc'] > 0.8 and after['trusty_auc'] > before['trusty_auc'] + 0.2, result
    assert after['mIoU_S'] > before['mIoU_S'] + 20, result


def test_slide_inference_through_mmseg_on_a_wide_image():
    """MMSeg's slide loop writes each window's size into img_shape (a torch.Size); the head must use it even when
    the sample's metainfo carries the whole image's pad_shape."""
    cfg = Config.fromfile(os.path.join(ROOT, 'configs', 'tagclip', 'tagclip-inductive_vpt-vit-b16_20k_voc20.py'))
    cfg.model.backbone.clip = TINY_DEEP
    cfg.model.decode_head.text_encoder.clip = TINY_DEEP
    model = MODELS.build(cfg.model).eval()
    x = torch.randn(1, 3, 512, 683)
    meta = dict(img_shape=(512, 683), pad_shape=(512, 683), ori_shape=(375, 500), padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        out = model.predict(x, [SegDataSample(metainfo=meta)])
        seg_logits = model.inference(x, [dict(meta)])
    assert out[0].pred_sem_seg.data.shape == (1, 375, 500)
    assert seg_logits.shape == (1, 20, 512, 683)
    # the window average of the head's scores, as MMSeg's slide loop computes it (2 windows: x 0..512, 171..683)
    with torch.no_grad():
        def window(x0):
            crop = x[..., x0:x0 + 512]
            feats = model.backbone(crop)
            return model.decode_head.scores(model.decode_head.upsample(model.decode_head.mask_logits(feats), (512, 512)))
        total = torch.zeros(1, 20, 512, 683)
        count = torch.zeros(1, 1, 512, 683)
        for x0 in (0, 171):
            total[..., x0:x0 + 512] += window(x0)
            count[..., x0:x0 + 512] += 1
    torch.testing.assert_close(seg_logits, total / count, rtol=1e-4, atol=1e-5)
