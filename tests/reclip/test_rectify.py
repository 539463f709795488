"""ReCLIP++ rectification stage: every formula against an independent computation (issue 4)."""
import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import ROOT, TINY_CLIP
from reclip_mmseg.clip import OpenCLIPTextEncoder
from reclip_mmseg.models import (GumbelMask, MaskedContrastiveLoss, RectifiedMaskDecoder, ReferencePromptLearner,
                                 bias_logits, prompt_denoise)


def tiny_model_cfg(**head):
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py')
    cfg.model.backbone.clip = TINY_CLIP
    cfg.model.decode_head.text_encoder.clip = TINY_CLIP
    cfg.model.decode_head.update(head)
    return cfg.model


@pytest.fixture(scope='module')
def text():
    return OpenCLIPTextEncoder(clip=TINY_CLIP)


def test_release_defaults_are_pinned():
    head = Config.fromfile(f'{ROOT}/configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py').model.decode_head
    assert head.prompt_learner.num_context == 73 and head.prompt_learner.context_init == 'token0'
    assert head.prompt_learner.normalize == 'frobenius'
    assert head.mask_decoder.kernel_size == 5 and head.mask_decoder.weight_init == 'kaiming_fan_out'
    assert head.gumbel.scale == 100.0 and head.gumbel.tau == 1.0 and head.gumbel.hard
    assert head.loss_decode.logit_scale == 100.0 and head.bias_mode == 'subtract'
    assert head.text_encoder.templates == 'reclip85'
    from conftest import RECLIP_DATASETS, reclip_config
    thresholds = {n: Config.fromfile(f'{ROOT}/{reclip_config("reclip_pp", n)}').model.decode_head.denoise_threshold
                  for n in RECLIP_DATASETS}
    assert thresholds == dict(voc20=1.0, context59=0.85, ade20k=0.5, cityscapes=0.5, cocostuff27=0.95)


def test_prompt_learner_init_and_name_positions(text):
    learner = ReferencePromptLearner(text, ['cat', 'dog'], num_context=73)
    emb0 = text.clip_model.token_embedding.weight[0]
    assert learner.context.shape == (73, text.width)
    assert torch.equal(learner.context.data, emb0.expand(73, -1))
    ids = learner.token_ids
    assert ids.shape == (2, 77) and (ids[:, 1:74] == 0).all()
    cat = text.tokenize(['cat'])[0]
    assert ids[0, 74:].tolist() == cat[1:4].tolist()  # name token, EOT, padding


def test_long_names_warn_once_and_smaller_context_makes_room(text):
    from reclip_mmseg.models.reclip_pp import bias
    bias._WARNED_TRUNCATED.discard('chest of drawers')  # other tests of this process may have built it already
    with pytest.warns(UserWarning, match='chest of drawers'):
        ReferencePromptLearner(text, ['chest of drawers'], num_context=73)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ReferencePromptLearner(text, ['chest of drawers'], num_context=73)  # once per name
        roomy = ReferencePromptLearner(text, ['chest of drawers'], num_context=16)
    assert int(roomy.token_ids.argmax(-1)) == 1 + 16 + 3  # chest, of, drawers, EOT


@pytest.mark.parametrize('normalize', ['frobenius', 'per_class', 'none'])
def test_reference_normalisation(text, normalize):
    learner = ReferencePromptLearner(text, ['cat', 'dog', 'sky'], normalize=normalize)
    learner.context.data.normal_(0, 0.02)
    raw = text.encode_with_context(learner.context, learner.token_ids, 73, shared_prefix=False).detach()
    expected = dict(frobenius=raw / torch.sqrt((raw ** 2).sum()), per_class=raw / raw.norm(dim=1, keepdim=True),
                    none=raw)[normalize]
    torch.testing.assert_close(learner().detach(), expected, rtol=1e-4, atol=1e-5)  # shared vs plain pass


def test_bias_logits_are_a_plain_matrix_product():
    pos, ref = torch.randn(1, 8, 3, 4), torch.randn(5, 8)
    out = bias_logits(pos, ref)
    expected = torch.zeros(1, 5, 3, 4)
    for c in range(5):
        for y in range(3):
            for x in range(4):
                expected[0, c, y, x] = (pos[0, :, y, x] * ref[c]).sum()
    torch.testing.assert_close(out, expected)


def test_decoder_input_order_is_features_then_rectified_logits():
    dec = RectifiedMaskDecoder(feat_channels=6, num_classes=3, kernel_size=5).eval()
    assert dec.conv.kernel_size == (5, 5) and dec.conv.padding == (2, 2) and dec.conv.bias is not None
    feats, logits = torch.randn(2, 6, 7, 7), torch.randn(2, 3, 7, 7)
    expected = F.conv2d(torch.cat([feats, logits], 1), dec.conv.weight, dec.conv.bias, padding=2)
    bn = dec.norm
    expected = (expected - bn.running_mean.view(1, -1, 1, 1)) / torch.sqrt(bn.running_var.view(1, -1, 1, 1) + bn.eps)
    expected = expected * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(dec(feats, logits), expected, rtol=1e-5, atol=1e-5)
    swapped = F.conv2d(torch.cat([logits, feats], 1), dec.conv.weight, dec.conv.bias, padding=2)
    assert not torch.allclose(swapped, F.conv2d(torch.cat([feats, logits], 1), dec.conv.weight, dec.conv.bias,
                                                padding=2))


def test_decoder_with_shared_bias_part_equals_one_conv_of_the_sum_values_and_gradients():
    """The split decoder (per-image [F, L_q] without input gradient + the batch-shared -L_b convolved once) is
    the plain conv of [F, L_q - L_b]: same output, same gradients for the weights and for L_b."""
    torch.manual_seed(0)
    dec = RectifiedMaskDecoder(feat_channels=6, num_classes=3, kernel_size=5).train()
    feats, query = torch.randn(4, 6, 7, 9), torch.randn(4, 3, 7, 9)
    bias = torch.randn(1, 3, 7, 9, requires_grad=True)
    weight = torch.randn(4, 3, 7, 9)
    (dec(feats, query, -bias) * weight).sum().backward()
    split = dict(bias=bias.grad.clone(), **{k: p.grad.clone() for k, p in dec.named_parameters()})
    dec.zero_grad()
    bias_ref = bias.detach().clone().requires_grad_(True)
    plain = dec.norm(F.conv2d(torch.cat([feats, query - bias_ref], 1), dec.conv.weight, dec.conv.bias, padding=2))
    (plain * weight).sum().backward()
    torch.testing.assert_close(dec(feats, query, -bias.detach()), plain.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(split['bias'], bias_ref.grad, rtol=1e-5, atol=1e-5)
    for k, p in dec.named_parameters():
        torch.testing.assert_close(split[k], p.grad, rtol=1e-5, atol=1e-5)
    assert split['conv.weight'].abs().sum() > 0 and split['bias'].abs().sum() > 0


def test_gumbel_forward_one_hot_backward_soft():
    logits = torch.randn(2, 4, 3, 3, requires_grad=True)
    hard = GumbelMask(scale=100.0, tau=1.0, seed=7)(logits)
    weight = torch.randn_like(hard)
    (hard * weight).sum().backward()
    # independent: the same noise stream (first call of rank 0: seed 7 mixed as GumbelMask documents), soft
    # sample, one-hot of its argmax, straight-through gradient
    gen = torch.Generator().manual_seed((7 * 0x9E3779B97F4A7C15) % 2 ** 63)
    ref_logits = logits.detach().clone().requires_grad_(True)
    gumbels = -torch.empty_like(ref_logits).exponential_(generator=gen).log()
    soft = torch.softmax((100.0 * ref_logits + gumbels) / 1.0, dim=1)
    one_hot = F.one_hot(soft.argmax(1), 4).permute(0, 3, 1, 2).float()
    assert torch.equal(hard.detach(), one_hot)
    assert ((hard.sum(1) - 1).abs() < 1e-6).all()
    (soft * weight).sum().backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad)


def test_gumbel_noise_stream_survives_a_checkpoint():
    a = GumbelMask(seed=3)
    x = torch.randn(1, 5, 4, 4)
    a(x)
    b = GumbelMask(seed=99)
    b.load_state_dict(a.state_dict())
    torch.manual_seed(123)  # the global stream does not matter
    assert torch.equal(a(x), b(x)) and torch.equal(a(x), b(x))


def test_contrastive_loss_on_a_hand_built_case():
    # B=2, C=3, D=2, 1x2 grid; image 0 hypothesis {0, 2}, image 1 empty.
    feats = torch.tensor([[[[1., 0.]], [[0., 1.]]], [[[1., 1.]], [[1., 1.]]]])  # (2, 2, 1, 2)
    masks = torch.tensor([[[[1., 0.]], [[0., 0.]], [[0., 1.]]], [[[1., 1.]], [[0., 0.]], [[0., 0.]]]])  # (2,3,1,2)
    text = torch.tensor([[1., 0.], [0., 1.], [0.6, 0.8]])
    loss = MaskedContrastiveLoss(logit_scale=100.0)(feats, masks, text, [torch.tensor([0, 2]), torch.tensor([])])
    # image 0: f_0 = ([1,0]*1 + 0)/2 = [0.5, 0], f_2 = ([0,1])/2 = [0, 0.5]
    s0 = 100 * torch.tensor([0.5, 0.0, 0.3])
    s2 = 100 * torch.tensor([0.0, 0.5, 0.4])
    ce0 = -torch.log_softmax(s0, 0)[0]
    ce2 = -torch.log_softmax(s2, 0)[2]
    expected = ((ce0 + ce2) / 2 + 0.0) / 2  # mean over H_0; image 1 adds nothing; / B
    torch.testing.assert_close(loss, expected)


def test_prompt_denoising_against_independent_computation():
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 0.05]], [[-1.0, 0.0]]]])  # (1, 3, 1, 2)
    out = prompt_denoise(logits, threshold=0.9, temperature=10.0)
    p = torch.softmax(10 * logits, 1)
    keep = p.amax(dim=(2, 3)) >= 0.9  # class 0 reaches ~1.0; classes 1, 2 do not
    assert keep[0].tolist() == [True, False, False]
    assert torch.equal(out[:, 0], logits[:, 0]) and (out[:, 1:] < -1e3).all()
    assert torch.equal(prompt_denoise(logits, 0.0), logits)


def _batch(B=2, size=64, labels=((1, 3), (0,))):
    inputs = torch.randn(B, 3, size, size)
    samples = []
    for b in range(B):
        s = SegDataSample()
        s.set_metainfo(dict(image_level_labels=list(labels[b % len(labels)]), img_shape=(size, size),
                            pad_shape=(size, size), ori_shape=(size, size)))
        samples.append(s)
    return inputs, samples


def test_one_step_changes_exactly_the_trainable_parts(device):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).to(device)
    model.train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {'decode_head.prompt_learner.context', 'decode_head.bias_projector.proj.weight',
                         'decode_head.bias_projector.proj.bias', 'decode_head.mask_decoder.conv.weight',
                         'decode_head.mask_decoder.conv.bias', 'decode_head.mask_decoder.norm.weight',
                         'decode_head.mask_decoder.norm.bias'}
    clip_before = copy.deepcopy(model.backbone.clip_model.state_dict())
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4))
    inputs, samples = _batch()
    losses = model.loss(inputs.to(device), samples)
    optim.backward(sum(losses.values()))
    assert model.decode_head.prompt_learner.context.grad.abs().sum() > 0  # through the frozen text tower
    optim.step()
    for n, p in model.named_parameters():
        assert not torch.equal(before[n], p.detach()), f'{n} did not change'
    for k, v in model.backbone.clip_model.state_dict().items():
        assert torch.equal(clip_before[k], v), f'CLIP {k} changed'
    assert all(p.grad is None for p in model.backbone.clip_model.parameters())
    # the checkpoint holds only what was trained (+ BN buffers), never CLIP
    assert set(model.state_dict()) == trainable | {'decode_head.gumbel.noise_state',
                                                   'decode_head.mask_decoder.norm.running_mean',
                                                   'decode_head.mask_decoder.norm.running_var',
                                                   'decode_head.mask_decoder.norm.num_batches_tracked'}


def test_rectified_logits_subtract_or_add_the_bias(device):
    model = MODELS.build(tiny_model_cfg()).eval().to(device)
    head = model.decode_head
    with torch.no_grad():
        feats = model.backbone(torch.randn(1, 3, 64, 96, device=device))
        query = torch.einsum('bdhw,cd->bchw', feats.dense, head.query_embeds)
        bias = bias_logits(head.bias_projector(feats.pos), head.prompt_learner())
        torch.testing.assert_close(head.rectified_logits(feats.dense, feats.pos), query - bias)
        head.bias_mode = 'add'
        torch.testing.assert_close(head.rectified_logits(feats.dense, feats.pos), query + bias)
        head.bias_mode = 'none'
        torch.testing.assert_close(head.rectified_logits(feats.dense, feats.pos), query)


def test_bias_logits_cached_per_grid_in_eval_mode(monkeypatch):
    cfg = tiny_model_cfg()
    cfg.test_cfg.return_logits = True  # compare the logits themselves, not only the label maps
    model = MODELS.build(cfg).eval()
    head = model.decode_head
    calls = []
    original = head.prompt_learner.forward
    monkeypatch.setattr(head.prompt_learner, 'forward', lambda: calls.append(1) or original())
    inputs, samples = _batch(B=1)
    with torch.no_grad():
        a = model.predict(inputs, copy.deepcopy(samples))[0].seg_logits.data
        b = model.predict(inputs, copy.deepcopy(samples))[0].seg_logits.data
        model.predict(*_batch(B=1, size=96))
        assert len(calls) == 2  # one per grid size
        assert torch.equal(a, b)
        pos = model.backbone(inputs).pos
        fresh = bias_logits(head.bias_projector(pos), original())  # not through the cache
        torch.testing.assert_close(head.compute_bias_logits(pos), fresh)
    assert len(calls) == 2
    head.train()
    assert not head._bias_cache


def test_missing_hypothesis_is_a_clear_error():
    model = MODELS.build(tiny_model_cfg()).train()
    inputs, samples = _batch(B=1)
    samples[0].set_metainfo(dict(img_path='x.jpg'))
    del samples[0].image_level_labels
    with pytest.raises(KeyError, match='gen_hypotheses.py'):
        model.loss(inputs, samples)


def test_channels_last_prediction_equals_the_plain_resize():
    """The fast path hands MMSeg channels-last logits; values within 1e-5 of the plain path, same labels."""
    from mmseg.models.utils import resize
    model = MODELS.build(tiny_model_cfg(denoise_threshold=0.0)).eval()
    logits = torch.randn(1, 20, 21, 28)
    metas = [dict(img_shape=(336, 448), pad_shape=(336, 448))]
    fast = model.decode_head.predict_by_feat(logits, metas)
    plain = resize(logits.contiguous(), size=(336, 448), mode='bilinear', align_corners=False)
    assert (fast - plain).abs().max() < 1e-5
    assert torch.equal(fast[0].argmax(0), plain[0].argmax(0))


def test_gumbel_noise_differs_per_rank_and_each_rank_resumes_exactly(monkeypatch):
    import mmengine.dist
    x = torch.zeros(1, 6, 8, 8)  # equal logits: the sample is decided by the noise alone
    ranks = {}
    for rank in (0, 1):
        monkeypatch.setattr(mmengine.dist, 'get_dist_info', lambda r=rank: (r, 2))
        g = GumbelMask(seed=7)
        ranks[rank] = [g(x).argmax(1) for _ in range(3)]
    assert not torch.equal(ranks[0][0], ranks[1][0])  # each rank its own noise
    # a checkpoint written by rank 0 after 2 calls: every rank continues its own stream exactly
    monkeypatch.setattr(mmengine.dist, 'get_dist_info', lambda: (0, 2))
    writer = GumbelMask(seed=7)
    writer(x), writer(x)
    state = writer.state_dict()
    for rank in (0, 1):
        monkeypatch.setattr(mmengine.dist, 'get_dist_info', lambda r=rank: (r, 2))
        resumed = GumbelMask(seed=1)
        resumed.load_state_dict(state)
        assert torch.equal(resumed(x).argmax(1), ranks[rank][2])
