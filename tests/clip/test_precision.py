"""clip.precision (docs/training_free.md §6.4): the training-free releases run OpenAI's half-precision CLIP on CUDA.
'fp16' builds that model; 'auto' takes it when torch sees a CUDA device (the authors' presets). The references here are
open_clip's own half-precision build (``create_model(precision='fp16')``, its own forward) and the list of what OpenAI's
``convert_weights`` casts, written out from the doc, never this package's conversion."""
import logging

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT
from reclip_mmseg.clip import CLIPViT, OpenCLIPTextEncoder, load_clip
from reclip_mmseg.clip.loader import TINY_SEED, resolve_precision

pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors (conftest.py)

TINY_FP16 = dict(model_name='reclip-tiny', pretrained=None, precision='fp16')


def _open_clip_fp16(name='reclip-tiny'):
    """open_clip's own fp16 CLIP with the tiny model's weights (same seed as the loader's random init)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        return open_clip.create_model(name, pretrained=None, force_quick_gelu=True, precision='fp16').eval()


def test_fp16_casts_what_openais_convert_weights_casts():
    model, wid = load_clip(**TINY_FP16)
    fp32, wid32 = load_clip(model_name='reclip-tiny', pretrained=None)
    assert wid != wid32 and wid.endswith(':fp16')  # caches of the two never mix
    half, single = [], []
    for name, p in model.named_parameters():
        module = name.rsplit('.', 1)[0]
        leaf = name.rsplit('.', 1)[-1]
        # OpenAI's convert_weights: Conv / Linear weight and bias, attention in_proj / out_proj, text_projection, proj
        is_half = (leaf in ('text_projection', 'proj') or 'in_proj' in leaf or
                   (leaf in ('weight', 'bias') and any(k in module for k in ('conv1', 'out_proj', 'c_fc', 'c_proj'))))
        (half if is_half else single).append(name)
        assert p.dtype == (torch.float16 if is_half else torch.float32), name
    assert 'visual.proj' in half and 'text_projection' in half and 'visual.conv1.weight' in half
    for kept in ('positional_embedding', 'token_embedding.weight', 'visual.class_embedding',
                 'visual.positional_embedding', 'ln_final.weight', 'visual.ln_pre.weight'):
        assert kept in single, kept
    # the float32 model is untouched (loaded separately), with the same values before the cast
    assert all(p.dtype == torch.float32 for p in fp32.parameters())
    np.testing.assert_array_equal(dict(model.named_parameters())['visual.proj'].float().numpy(),
                                  fp32.visual.proj.half().float().numpy())


def test_layernorm_computes_in_float32_and_returns_the_inputs_dtype():
    model, _ = load_clip(**TINY_FP16)
    ln = model.visual.ln_pre
    x = torch.randn(2, 5, ln.normalized_shape[0]).half()
    want = F.layer_norm(x.float(), ln.normalized_shape, ln.weight.float(), ln.bias.float(), ln.eps).half()
    out = ln(x)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out, want, rtol=0, atol=0)


def test_fp16_towers_equal_open_clips_own_fp16_forward():
    """The fp16 model's image tokens before the last block and its text features are bit for bit those of open_clip's
    create_model(precision='fp16') forward (its own casts of the class / positional / token embeddings, its own
    blocks), and both towers compute in float16. (The last block and the text truncation are checked in float32
    by test_clip.py; in float16 they are the same arithmetic in another order, so equal to rounding only.)"""
    ref = _open_clip_fp16()
    vit = CLIPViT(clip=TINY_FP16, with_global=True)
    x = torch.randn(2, 3, 224, 224)  # open_clip's forward takes the native size only
    seen = []
    hook = ref.visual.transformer.resblocks[-2].register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        with torch.no_grad():
            want_global = ref.encode_image(x.half()).float()
    finally:
        hook.remove()
    with torch.no_grad():
        tokens, _, _, _ = vit._tokens_before_last_block(x)
    assert tokens.dtype == seen[0].dtype == torch.float16
    torch.testing.assert_close(tokens, seen[0], rtol=0, atol=0)
    torch.testing.assert_close(vit.encode_global(x), want_global, rtol=0, atol=5e-3)  # |values| up to ~2.5
    text = OpenCLIPTextEncoder(clip=TINY_FP16, templates=('a photo of a {}.',))
    assert text.tower_dtype == torch.float16
    ids = text.tokenize(['a photo of a cat.', 'a photo of a big red bus.'])
    with torch.no_grad():
        torch.testing.assert_close(text.encode_tokens(ids, truncate=False), ref.encode_text(ids), rtol=0, atol=0)
        torch.testing.assert_close(text.encode_tokens(ids).float(), ref.encode_text(ids).float(), rtol=0, atol=5e-3)


@pytest.mark.parametrize('mode', ['maskclip', 'vanilla', 'sclip', 'clearclip', 'naclip', 'sc_clip', 'sfp', 'resclip',
                                  'cliper', 'gem'])
def test_every_dense_mode_runs_in_fp16_close_to_fp32(mode):
    """Each mode in half precision on the 12-block tiny CLIP: finite features, within fp16 rounding of the
    float32 run (cosine > 0.99 per pixel), labels equal except where float32's top two are near a tie."""
    deep = dict(model_name='reclip-tiny-deep', pretrained=None)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 80)
    text32 = OpenCLIPTextEncoder(clip=deep, templates=('a photo of a {}.',))
    names = ('cat', 'dog', 'grass', 'sky', 'road')
    t32 = text32.class_embeddings(names, progress=False)
    t16 = OpenCLIPTextEncoder(clip=dict(deep, precision='fp16'),
                              templates=('a photo of a {}.',)).class_embeddings(names, progress=False)
    assert (F.cosine_similarity(t16, t32, dim=-1) > 0.995).all()
    f32 = CLIPViT(clip=deep, dense_mode=mode, with_global=False)(x, text=t32)
    f16 = CLIPViT(clip=dict(deep, precision='fp16'), dense_mode=mode, with_global=False)(x, text=t16)
    assert f16.dense.dtype == torch.float32 and torch.isfinite(f16.dense).all()
    cos = F.cosine_similarity(f16.dense, f32.dense, dim=1)
    assert cos.min() > 0.99, (mode, cos.min())
    if mode == 'cliper':  # scores made inside the tower
        s32, s16 = f32.scores, f16.scores
    else:
        s32, s16 = (torch.einsum('bdhw,cd->bchw', f.dense, t) for f, t in ((f32, t32), (f16, t16)))
    top2 = s32.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 0.02 * s32.abs().amax()
    assert clear.float().mean() > 0.5
    assert (s16.argmax(1) == s32.argmax(1))[clear].all(), mode


def test_auto_is_fp16_exactly_when_torch_sees_cuda(monkeypatch):
    assert resolve_precision('fp32') == 'fp32' and resolve_precision('fp16') == 'fp16'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert resolve_precision('auto') == 'fp32'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert resolve_precision('auto') == 'fp16'
    with pytest.raises(ValueError, match='clip.precision'):
        resolve_precision('half')
    # the build says which it took
    from mmengine.logging import MMLogger
    from reclip_mmseg.clip import loader
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    loader._LOADED.pop(('reclip-tiny', None, True, None, 'fp32'), None)
    lines = []

    class Lines(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    handler = Lines()
    logger.addHandler(handler)
    try:
        load_clip(model_name='reclip-tiny', pretrained=None, precision='auto')
    finally:
        logger.removeHandler(handler)
    assert any("clip.precision='auto': fp32 (no CUDA device)" in line for line in lines), lines


def test_authors_presets_run_the_releases_precision():
    """Every authors' preset asks for 'auto' in both towers (fp16 on CUDA, as the releases); the unified protocol
    keeps float32."""
    import glob
    from mmengine.config import Config
    presets = sorted(glob.glob(f'{ROOT}/configs/training_free/authors/*.py'))
    assert len(presets) == 56
    for path in presets:
        cfg = Config.fromfile(path)
        assert cfg.model.backbone.clip.precision == 'auto', path
        assert cfg.model.decode_head.text_encoder.clip.precision == 'auto', path
    cfg = Config.fromfile(f'{ROOT}/configs/training_free/naclip_vit-b16_voc21.py')
    assert cfg.model.backbone.clip.get('precision', 'fp32') == 'fp32'


def test_learned_prompts_refuse_a_half_precision_tower():
    text = OpenCLIPTextEncoder(clip=TINY_FP16, templates=('a photo of a {}.',))
    ids, _, _ = text.context_prompt_tokens(['cat', 'dog'], num_context=4)
    with pytest.raises(ValueError, match="clip.precision='fp16'"):
        text.encode_with_context(torch.zeros(4, text.width), ids, 4)


@pytest.mark.parametrize('preset', ['naclip_vit-b16_voc21.py', 'cliper_vit-b16_voc21.py'])
def test_authors_presets_run_in_fp16_through_the_runner(preset, tmp_path):
    """What 'auto' gives on CUDA, forced on this CPU: the preset (NACLIP with its PAMR; CLIPer's own segmentor and
    metric) through MMEngine's Runner with the 12-block tiny CLIP in fp16 and in float32, each writing its label
    files; the two label maps agree on nearly every pixel (the untrained tiny CLIP's scores are close together, so
    near-ties are common), and the fp16 run's mIoU is finite."""
    import logging
    from mmengine.config import Config
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner
    from PIL import Image
    from conftest import options_dict
    from synthetic import make_voc_tree
    root = make_voc_tree(str(tmp_path / 'data'), n_train=0, n_val=2)
    results, labels = {}, {}
    for precision in ('fp32', 'fp16'):
        cfg = Config.fromfile(f'{ROOT}/configs/training_free/authors/{preset}')
        cfg.merge_from_dict(options_dict(
            [f'{w}.{k}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
             for k in ('model_name=reclip-tiny-deep', 'pretrained=None', f'precision={precision}')]
            + [f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0',
               'test_dataloader.persistent_workers=False', f'test_evaluator.output_dir={tmp_path / precision}']))
        cfg.work_dir = str(tmp_path / 'wd' / precision)
        cfg.log_level = 'WARNING'
        runner = Runner.from_cfg(cfg)
        want = {'fp32': torch.float32, 'fp16': torch.float16}[precision]
        assert runner.model.backbone.clip_model.visual.conv1.weight.dtype == want
        results[precision] = runner.test()['mIoU']
        MMLogger.get_current_instance().setLevel(logging.INFO)
        files = sorted((tmp_path / precision).glob('*.png'))
        assert len(files) == 2
        labels[precision] = np.stack([np.asarray(Image.open(f)) for f in files])
    agree = (labels['fp16'] == labels['fp32']).mean()
    print(f'{preset}: fp16 and fp32 labels agree on {100 * agree:.2f}% of pixels; mIoU {results}')
    assert np.isfinite(results['fp16']) and agree > 0.9, (agree, results)
