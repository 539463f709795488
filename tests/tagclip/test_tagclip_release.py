"""TagCLIP as its release runs it (issue 23, item 5): the schedule against mmcv 1.x's formula, the COCO supervised trusty
token, per-image prompt dropout, the relationship descriptor's zero bias, prompts dropped after the last deep layer,
and padding left out of the 'not_seen' trusty target. Each against a computation written here."""
import os

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import PARAM_SCHEDULERS
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from conftest import ROOT
from test_tagclip import build_backbone, build_head, focal_ref

TAGCLIP = os.path.join(ROOT, 'configs', 'tagclip')


def mmcv1_poly_with_warmup(i, base=2e-5, max_iters=20000, power=0.9, min_lr=1e-6, warmup=1500, ratio=1e-6):
    """mmcv 1.x's PolyLrUpdaterHook with linear warm-up (the release's runner), written out: the poly curve over
    [0, max_iters], multiplied during warm-up by 1 - (1 - i / warmup)(1 - ratio)."""
    regular = (base - min_lr) * (1 - i / max_iters) ** power + min_lr
    if i < warmup:
        return regular * (1 - (1 - i / warmup) * (1 - ratio))
    return regular


def _lr_curve(param_scheduler, iters, lr=2e-5):
    """The lr each iteration trains with, from MMEngine's schedulers built as the runner builds them."""
    param = torch.nn.Parameter(torch.zeros(1))
    optim = torch.optim.AdamW([param], lr=lr)
    schedulers = [PARAM_SCHEDULERS.build(dict(s, optimizer=optim)) for s in param_scheduler]
    lrs = []
    for _ in range(iters):
        lrs.append(optim.param_groups[0]['lr'])
        for s in schedulers:
            s.step()
    return lrs


def _relative_errors(lrs, iters):
    return [abs(lrs[i] - mmcv1_poly_with_warmup(i, max_iters=iters)) / mmcv1_poly_with_warmup(i, max_iters=iters)
            for i in range(0, iters, 500)]


@pytest.mark.parametrize('name,iters', [('tagclip-inductive_vpt-vit-b16_20k_voc20', 20000),
                                        ('tagclip-transductive_vpt-vit-b16_10k_voc20', 10000),
                                        pytest.param('tagclip-inductive_vpt-vit-b16_80k_cocostuff171', 80000,
                                                     marks=pytest.mark.slow)])
def test_schedule_follows_mmcv1_warmup_times_poly(name, iters):
    cfg = Config.fromfile(os.path.join(TAGCLIP, name + '.py'))
    assert cfg.train_cfg.max_iters == iters
    rel = _relative_errors(_lr_curve(cfg.param_scheduler, iters, cfg.optim_wrapper.optimizer.lr), iters)
    assert max(rel) < 1e-9, max(rel)  # at every 500th iteration


@pytest.mark.slow  # 40k scheduler steps: documents why WarmupPolyLR exists
@pytest.mark.filterwarnings('ignore::UserWarning')
def test_mmengines_chained_warmup_and_poly_are_what_the_check_rejects():
    """Why not MMEngine's LinearLR + PolyLR: the same check measures them 2-7 % high on average."""
    for poly_begin, low, high in ((1500, 0.05, 0.08), (0, 0.015, 0.03)):
        chain = [dict(type='LinearLR', start_factor=1e-6, begin=0, end=1500, by_epoch=False),
                 dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=poly_begin, end=20000, by_epoch=False)]
        rel = _relative_errors(_lr_curve(chain, 20000), 20000)
        assert low < sum(rel) / len(rel) < high


def test_coco_supervised_keeps_the_trusty_token_trained_towards_zero():
    coco = Config.fromfile(os.path.join(TAGCLIP, 'tagclip-supervised_vpt-vit-b16_80k_cocostuff171.py')).model.decode_head
    voc = Config.fromfile(os.path.join(TAGCLIP, 'tagclip-supervised_vpt-vit-b16_20k_voc20.py')).model.decode_head
    assert (coco.use_trusty, coco.trusty_eval, coco.unseen_idx) == (True, 'none', [])
    assert (voc.use_trusty, voc.trusty_eval, voc.unseen_idx) == (False, 'none', [])
    # with no unseen class, the trusty map's target is zero on every pixel (the release's discriminate=True)
    head = build_head(unseen_idx=[], use_trusty=coco.use_trusty, trusty_eval=coco.trusty_eval,
                      trusty_target=coco.trusty_target)
    raw = torch.randint(0, 5, (2, 16, 16))
    raw[:, :3] = 255
    _, trusty = head.training_targets(raw, torch.zeros(2, 5, 16, 16))
    assert trusty is not None and int(trusty.abs().sum()) == 0
    assert head.trusty_token.requires_grad


def test_prompt_dropout_draws_a_mask_per_image():
    torch.manual_seed(0)
    bb = build_backbone(img_size=64, prompt_dropout=0.5)
    img = torch.randn(1, 3, 64, 64).expand(2, -1, -1, -1)  # two identical images
    feats = bb.train()(img)
    dense, g = feats.dense, feats.global_embed
    assert not torch.allclose(dense[0], dense[1])  # one shared mask made them identical
    feats = bb.eval()(img)
    dense = feats.dense
    torch.testing.assert_close(dense[0], dense[1])


def test_relationship_descriptor_bias_starts_at_zero():
    head = build_head()
    head.relationship.proj.bias.data.fill_(1.0)
    head.init_weights()  # what MMEngine's runner calls
    assert float(head.relationship.proj.bias.abs().max()) == 0.0
    bound = (6 / sum(head.relationship.proj.weight.shape)) ** 0.5
    assert 0.5 * bound < float(head.relationship.proj.weight.abs().max()) <= bound  # xavier-uniform weight


def test_prompts_are_dropped_after_the_last_deep_layer():
    torch.manual_seed(5)
    bb = build_backbone(img_size=224, deep_prompt_layers=5).eval()  # 12 blocks, prompts in blocks 0..5 only
    visual = bb.clip_model.visual
    img = torch.randn(2, 3, 224, 224)
    feats = bb(img)
    dense, g = feats.dense, feats.global_embed
    x = visual.conv1(img).flatten(2).transpose(1, 2) + visual.positional_embedding[1:]
    cls = 2 * visual.class_embedding + visual.positional_embedding[0]
    x = visual.ln_pre(torch.cat([cls.expand(2, 1, -1), x], 1))
    prompts = [bb.prompt_proj(bb.prompt_embeddings[0])] + [bb.prompt_proj(p) for p in bb.deep_prompt_embeddings]
    assert len(prompts) == 6
    x = torch.cat([x[:, :1], prompts[0].expand(2, -1, -1), x[:, 1:]], 1)
    for i, block in enumerate(visual.transformer.resblocks):
        if 1 <= i <= 5:
            x = torch.cat([x[:, :1], prompts[i].expand(2, -1, -1), x[:, 4:]], 1)
        elif i == 6:
            x = torch.cat([x[:, :1], x[:, 4:]], 1)  # the 3 prompt tokens go
        x = block(x)
    assert x.shape[1] == 1 + 14 * 14
    x = visual.ln_post(bb.prompt_norm(x)) @ visual.proj
    torch.testing.assert_close(g, x[:, 0], rtol=1e-4, atol=1e-5)  # CLIPFeatures: the global embedding unnormalised
    torch.testing.assert_close(dense, F.normalize(x[:, 1:], dim=-1).transpose(1, 2).reshape(2, -1, 14, 14),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('trusty_target', ['not_seen', 'unseen_gt'])
def test_padding_is_left_out_of_the_not_seen_trusty_target(trusty_target):
    torch.manual_seed(1)
    head = build_head(trusty_target=trusty_target).train()  # classes 1, 3 unseen
    bb = build_backbone(img_size=64).eval()
    raw = torch.randint(0, 5, (2, 64, 64))
    raw[0, :4] = 255  # an ignored label inside the image
    shapes = [(40, 48), (64, 56)]  # the rest of each 64 x 64 label is the data preprocessor's padding
    samples = []
    for b, (h, w) in enumerate(shapes):
        raw[b, h:] = 255
        raw[b, :, w:] = 255
        s = SegDataSample(gt_sem_seg=PixelData(data=raw[b][None]))
        s.set_metainfo(dict(img_shape=(h, w), pad_shape=(64, 64)))
        samples.append(s)
    feats = bb(torch.randn(2, 3, 64, 64))
    torch.manual_seed(2)
    losses = head.loss(feats, samples, None)
    torch.manual_seed(2)  # the same decoder dropout draw
    m = head.upsample(head.forward(feats), (64, 64))[:, -1]
    seen = torch.isin(raw, torch.tensor([0, 2, 4]))
    unseen = torch.isin(raw, torch.tensor([1, 3]))
    num_masks = sum(len(set(raw[b][seen[b]].tolist())) for b in range(2))
    total = 0.0
    for b, (h, w) in enumerate(shapes):
        if trusty_target == 'not_seen':  # 1 wherever the label is not a seen class (ignored pixels included) ...
            u = (~seen[b, :h, :w]).double()  # ... inside the image only
            total += focal_ref(m[b, :h, :w], u).mean()
        else:  # the release: 1 on unseen pixels, 0 elsewhere, padding included
            total += focal_ref(m[b], unseen[b].double()).mean()
    torch.testing.assert_close(losses['loss_trusty'].double(), 10.0 * total / num_masks, rtol=1e-4, atol=1e-6)


def test_checkpointed_blocks_give_the_same_gradients_and_keep_fewer_activations():
    """Activation checkpointing of the frozen blocks (issue 26, item 4): the same prompt gradients as the plain
    backward (prompt dropout on, the same seed), and less kept for the backward pass."""
    torch.manual_seed(0)
    plain = build_backbone(img_size=64, prompt_dropout=0.1)
    ckpt = build_backbone(img_size=64, prompt_dropout=0.1, checkpoint_blocks=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    weight = torch.randn(2, plain.embed_dim, 4, 4)
    grads, kept = [], []
    for model in (plain, ckpt):
        model.train()
        weights = {p.untyped_storage().data_ptr() for p in model.clip_model.parameters()}
        weights |= {p.untyped_storage().data_ptr() for p in model.parameters()}
        seen = set()

        def pack(t):
            if t.untyped_storage().data_ptr() not in weights:
                seen.add(t.untyped_storage().data_ptr())
            return t
        torch.manual_seed(1)  # the prompt dropout masks: drawn outside the blocks, so the same in both runs
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            feats = model(x)
        ((feats.dense * weight).sum() + feats.global_embed.pow(2).sum()).backward()
        grads.append({k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad})
        kept.append(len(seen))
    assert grads[0].keys() == grads[1].keys() and 'prompt_embeddings' in grads[0]
    for k in grads[0]:
        torch.testing.assert_close(grads[1][k], grads[0][k], rtol=0, atol=0, msg=k)
    assert kept[1] < kept[0] / 2, kept  # the blocks' inner activations are recomputed, not kept
    assert not any(p.requires_grad for p in plain.clip_model.parameters())  # the tower stays frozen
