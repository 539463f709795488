"""Frozen CLIP: dense ViT, text encoder, weight loading (issue 3). Tiny untrained CLIP, offline."""
import os
import subprocess
import sys

import open_clip
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, TINY_CLIP
from reclip_mmseg.clip import (OpenCLIPTextEncoder, CLIPViT, CLIPWeightsUnavailable, load_clip, prompt_name,
                               resolve_templates)


@pytest.fixture(scope='module')
def vit():
    return CLIPViT(clip=TINY_CLIP)


@pytest.fixture(scope='module')
def text(tmp_path_factory):
    return OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path_factory.mktemp('cache')))


def test_global_embedding_equals_open_clip_encode_image(vit):
    x = torch.randn(2, 3, 224, 224)
    ours = vit(x).global_embed
    ref = vit.clip_model.encode_image(x)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_encode_global_equals_open_clip_encode_image(vit):
    x = torch.randn(3, 3, 224, 224)
    torch.testing.assert_close(vit.encode_global(x), vit.clip_model.encode_image(x), rtol=1e-5, atol=1e-5)


def test_batched_window_votes_equal_a_one_window_loop_of_encode_image(vit):
    """Hypothesis windows batched through ``encode_global`` vote exactly as open_clip's ``encode_image`` run on
    one window at a time (the plain computation), including a last partial batch."""
    import numpy as np
    from reclip_mmseg.datasets import WindowClassifier
    from reclip_mmseg.datasets.hypotheses import preprocess_windows, window_boxes
    torch.manual_seed(0)
    image = F.interpolate(torch.rand(1, 3, 5, 6), size=(75, 100), mode='nearest')[0]  # coloured blocks
    boxes = window_boxes(75, 100, 32, 16)
    with torch.no_grad():  # classes = the embeddings of every fourth window, so that the votes split
        query = F.normalize(vit.clip_model.encode_image(preprocess_windows(image, boxes[::4], 224)), dim=-1)
    classifier = WindowClassifier(vit, query, batch_size=4)
    assert len(boxes) % 4 != 0
    loop = np.zeros(query.shape[0], dtype=np.int64)
    for box in boxes:
        emb = F.normalize(vit.clip_model.encode_image(preprocess_windows(image, [box], 224)), dim=-1)
        loop[int((emb @ query.t()).argmax())] += 1
    votes = classifier.votes(image, boxes)
    assert votes.sum() == len(boxes) and (votes > 0).sum() > 1  # a real vote, not one class everywhere
    np.testing.assert_array_equal(votes, loop)
    with pytest.raises(TypeError, match='needs a CLIPViT'):
        WindowClassifier(vit.clip_model, query)


def _dense_by_hand(model, x):
    """Independent value path: open_clip's own intermediates + the last block's weights, as plain matrices."""
    visual = model.visual
    n_blocks = len(visual.transformer.resblocks)
    out = visual.forward_intermediates(x, indices=[n_blocks - 2], output_fmt='NLC', intermediates_only=True,
                                       output_extra_tokens=True)
    tokens = out['image_intermediates'][0]  # input of the last block, patch tokens only
    sd = {k: v for k, v in visual.state_dict().items()}
    p = f'transformer.resblocks.{n_blocks - 1}.'
    W = tokens.shape[-1]
    y = F.layer_norm(tokens, (W,), sd[p + 'ln_1.weight'], sd[p + 'ln_1.bias'])
    v = y @ sd[p + 'attn.in_proj_weight'][2 * W:].t() + sd[p + 'attn.in_proj_bias'][2 * W:]
    h = tokens + v @ sd[p + 'attn.out_proj.weight'].t() + sd[p + 'attn.out_proj.bias']
    z = F.layer_norm(h, (W,), sd[p + 'ln_2.weight'], sd[p + 'ln_2.bias'])
    z = z @ sd[p + 'mlp.c_fc.weight'].t() + sd[p + 'mlp.c_fc.bias']
    z = z * torch.sigmoid(1.702 * z)  # QuickGELU
    h = h + z @ sd[p + 'mlp.c_proj.weight'].t() + sd[p + 'mlp.c_proj.bias']
    h = F.layer_norm(h, (W,), sd['ln_post.weight'], sd['ln_post.bias']) @ sd['proj']
    return F.normalize(h, dim=-1)


def test_dense_features_equal_independent_value_path(vit):
    x = torch.randn(2, 3, 224, 224)
    feats = vit(x)
    assert feats.dense.shape == (2, vit.embed_dim, 14, 14)
    ref = _dense_by_hand(vit.clip_model, x).transpose(1, 2).reshape(2, -1, 14, 14)
    torch.testing.assert_close(feats.dense, ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(feats.dense.norm(dim=1), torch.ones(2, 14, 14))


def test_any_size_pads_to_patch_multiple_and_interpolates_positions(vit):
    feats = vit(torch.randn(1, 3, 230, 333))  # -> padded to 240 x 336 -> 15 x 21 tokens
    assert feats.dense.shape == (1, vit.embed_dim, 15, 21)
    assert feats.pos.shape == (1, vit.width, 15, 21)
    pos = vit.clip_model.visual.positional_embedding.detach()
    grid = pos[1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    ref = F.interpolate(grid, size=(15, 21), mode='bicubic', align_corners=False)
    torch.testing.assert_close(feats.pos, ref)
    same = vit(torch.randn(1, 3, 224, 224)).pos
    torch.testing.assert_close(same, grid)  # 14 x 14: the raw embedding, class token part dropped


def test_clip_is_frozen_and_out_of_checkpoints(vit):
    assert len(vit.state_dict()) == 0 and len(list(vit.parameters())) == 0
    assert all(not p.requires_grad for p in vit.clip_model.parameters())
    vit.train()
    assert not vit.clip_model.training


@pytest.mark.parametrize('batch_size', [256, 37])  # one batch; several batches of length-sorted prompts
def test_text_ensemble_equals_mean_of_encode_text(text, batch_size):
    names = ['cat', 'pottedplant', 'chest of drawers']
    ours = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=False, batch_size=batch_size).class_embeddings(names,
                                                                                                  progress=False)
    model = text.clip_model
    templates = resolve_templates('reclip85')
    assert len(templates) == 85
    refs = []
    for n in names:
        with torch.no_grad():
            f = model.encode_text(open_clip.tokenize([t.format(prompt_name(n)) for t in templates]))
        refs.append(F.normalize(F.normalize(f, dim=-1).mean(0), dim=-1))
    torch.testing.assert_close(ours, torch.stack(refs), rtol=1e-5, atol=1e-5)


def test_truncated_text_encoding_equals_full_77(text):
    tokens = open_clip.tokenize(['a photo of a cat.', 'there is the traffic light in the scene.'])
    full = text.encode_tokens(tokens, truncate=False)
    torch.testing.assert_close(text.encode_tokens(tokens, truncate=True), full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(full, text.clip_model.encode_text(tokens), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('shared_prefix', [True, False])
def test_learned_context_fed_a_real_prompt_reproduces_encode_text(text, shared_prefix):
    # "a photo of a cat": the context is the embeddings of "a photo of a", the class name is "cat".
    prompt = open_clip.tokenize(['a photo of a cat'])
    context = text.clip_model.token_embedding(prompt[0, 1:5]).detach().clone().requires_grad_(True)
    ids, eot, truncated = text.context_prompt_tokens(['cat'], num_context=4)
    assert not truncated and int(eot[0]) == 6
    ours = text.encode_with_context(context, ids, num_context=4, shared_prefix=shared_prefix)
    with torch.no_grad():
        ref = text.clip_model.encode_text(prompt)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    ours.sum().backward()
    assert context.grad is not None and context.grad.abs().sum() > 0
    assert all(p.grad is None for p in text.clip_model.parameters())


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
def test_shared_prefix_matches_plain_pass_values_and_gradients(text, dtype):
    """Exact in float64; in float32 within 1e-5 of the gradient's scale (summation order differs)."""
    names = ['cat', 'dining table', 'chest of drawers', 'sky']
    ids, _, _ = text.context_prompt_tokens(names, num_context=73)
    base = torch.randn(73, text.width, dtype=torch.float64) * 0.02
    outs, grads = [], []
    text.clip_model.to(dtype)
    try:
        for shared in (True, False):
            ctx = base.to(dtype).clone().requires_grad_(True)
            out = text.encode_with_context(ctx, ids, 73, shared_prefix=shared)
            (out * torch.linspace(-1, 1, out.numel(), dtype=dtype).reshape(out.shape)).sum().backward()
            outs.append(out.detach())
            grads.append(ctx.grad)
    finally:
        text.clip_model.float()
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert (outs[0] - outs[1]).abs().max() <= tol * outs[1].abs().max()
    assert (grads[0] - grads[1]).abs().max() <= tol * grads[1].abs().max()


def _save_openai_archive(model, path):
    traced = torch.jit.trace(model, (torch.randn(1, 3, 224, 224), open_clip.tokenize(['a cat'])),
                             strict=False, check_trace=False)
    traced.save(path)


@pytest.mark.parametrize('fmt', ['openai_torchscript', 'state_dict', 'wrapped_state_dict'])
def test_tiny_weights_saved_in_real_formats_load_through_user_path(tmp_path, fmt):
    model, _ = load_clip(**TINY_CLIP)
    path = str(tmp_path / 'ViT-tiny.pt')
    if fmt == 'openai_torchscript':
        _save_openai_archive(model, path)
    elif fmt == 'state_dict':
        torch.save(model.state_dict(), path)
    else:
        torch.save({'state_dict': {'module.' + k: v for k, v in model.state_dict().items()}}, path)
    vit = CLIPViT(clip=dict(model_name='reclip-tiny', pretrained=path))
    assert vit.clip_model is not model
    for (k, a), b in zip(model.state_dict().items(), vit.clip_model.state_dict().values()):
        assert torch.equal(a, b), k
    x = torch.randn(1, 3, 224, 224)
    torch.testing.assert_close(vit(x).global_embed, model.encode_image(x))


def test_weights_of_the_wrong_architecture_are_a_clear_error(tmp_path):
    model, _ = load_clip(**TINY_CLIP)
    path = str(tmp_path / 'tiny.pt')
    torch.save(model.state_dict(), path)
    with pytest.raises(CLIPWeightsUnavailable, match="does not fit architecture 'ViT-B-16'"):
        load_clip('ViT-B-16', path)


def test_random_weights_for_a_real_architecture_are_refused():
    with pytest.raises(CLIPWeightsUnavailable, match='random weights'):
        load_clip('ViT-B-16', None)
    with pytest.raises(CLIPWeightsUnavailable, match='no such file'):
        load_clip('ViT-B-16', '/nonexistent/ViT-B-16.pt')


# The code the two offline tests run: load_clip with every socket connection attempt counted (the real sockets
# connect; only the count is added), the count printed on the way out. No timing: a busy machine is slow, not wrong.
_COUNT_CONNECTIONS = (
    "import atexit, socket, sys\n"
    "attempts = []\n"
    "_connect = socket.socket.connect\n"
    "def connect(self, address):\n"
    "    attempts.append(address)\n"
    "    return _connect(self, address)\n"
    "socket.socket.connect = connect\n"
    "atexit.register(lambda: print(f'connection attempts: {len(attempts)}', file=sys.stderr))\n"
    "import reclip_mmseg; from reclip_mmseg.clip import load_clip\n")


def test_offline_without_weights_names_model_and_remedies(tmp_path):
    code = _COUNT_CONNECTIONS + f"load_clip('ViT-B-16', 'openai', cache_dir={str(tmp_path)!r})"
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)  # only a hang reaches this
    assert proc.returncode != 0
    assert 'CLIPWeightsUnavailable' in proc.stderr and "'ViT-B-16'" in proc.stderr
    assert 'clip.pretrained to a local file' in proc.stderr and 'reclip-tiny' in proc.stderr
    assert 'connection attempts: 0' in proc.stderr, proc.stderr[-2000:]  # HF_HUB_OFFLINE: not even one


def test_tiny_model_announces_it_is_untrained(capsys):
    from reclip_mmseg.clip import loader
    loader._LOADED.pop(('reclip-tiny', None, True, None, 'fp32'), None)  # (name, weights, quick_gelu, cache, precision)
    from mmengine.logging import MMLogger
    MMLogger.get_instance('reclip_test_announce')
    load_clip(**TINY_CLIP)
    out = capsys.readouterr()
    assert 'RANDOM, UNTRAINED' in out.out + out.err


def test_offline_is_detected_before_download_retries(tmp_path):
    """A closed endpoint (connection refused) stands for 'offline': the error comes after one connection attempt,
    not after open_clip's download retries (counted, not timed)."""
    code = _COUNT_CONNECTIONS + f"load_clip('ViT-B-16', 'openai', cache_dir={str(tmp_path)!r})"
    env = dict(os.environ, HF_ENDPOINT='http://127.0.0.1:9')
    env.pop('HF_HUB_OFFLINE', None)
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)  # only a hang reaches this
    assert proc.returncode != 0 and 'unreachable (offline?)' in proc.stderr, proc.stderr[-2000:]
    assert "'ViT-B-16'" in proc.stderr and 'clip.pretrained to a local file' in proc.stderr
    assert 'connection attempts: 1' in proc.stderr, proc.stderr[-2000:]  # the one probe, no retry


def test_a_head_whose_text_tower_is_another_clip_than_the_backbone_is_refused_at_build():
    """The image and text towers must be one CLIP: a training-free config with the 2-block tiny CLIP in the backbone
    and the 12-block one in the head is refused when built, naming both settings; the same CLIP builds."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from reclip_mmseg.models.text_head import check_same_clip
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/training_free/maskclip_vit-b16_voc20.py'))
    cfg.merge_from_dict({'model.backbone.clip': dict(TINY_CLIP),
                         'model.decode_head.text_encoder.clip': dict(TINY_CLIP, model_name='reclip-tiny-deep')})
    with pytest.raises(ValueError, match=r"model\.backbone\.clip=.*reclip-tiny'.*model\.decode_head\.text_encoder\.clip=.*"
                                         r"reclip-tiny-deep"):
        MODELS.build(cfg.model)
    cfg.merge_from_dict({'model.decode_head.text_encoder.clip': dict(TINY_CLIP)})
    model = MODELS.build(cfg.model)
    check_same_clip(model)  # and what the tools call on any config's model passes
    # a plain EncoderDecoder (ReCLIP++'s configs) is checked by the tools, through the same function
    rect = Config.fromfile(os.path.join(ROOT, 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'))
    rect.merge_from_dict({'model.backbone.clip': dict(TINY_CLIP),
                          'model.decode_head.text_encoder.clip': dict(TINY_CLIP, model_name='reclip-tiny-deep')})
    with pytest.raises(ValueError, match='name different CLIPs'):
        check_same_clip(MODELS.build(rect.model))
