"""Other CLIPs (issue 24, item 5; docs/training_free.md §8): every dense mode on ViT-B/32, ViT-L/14 and
ViT-L/14@336, its per-depth constants chosen by the number of vision blocks and said in the log.

Fast: the selection for 12 and 24 blocks for every mode, and every mode built and run on two untrained tiny towers
shaped like the new architectures (12 blocks with 32-pixel patches as ViT-B/32; 24 blocks, 14-pixel patches and a
24 x 24 positional grid as ViT-L/14@336), each build's log line checked. Slow: the three real architectures with
random weights (ViT-L: ~300M parameters in the image tower)."""
import json
import logging
import time

import pytest
import torch
import torch.nn.functional as F

from conftest import TINY_CLIP
from reclip_mmseg.clip import CLIPViT
from reclip_mmseg.clip.depth_constants import mode_constants
from reclip_mmseg.clip.image_encoder import DENSE_MODES

# mode -> depth -> the constants it must use (blocks 1-indexed); the table of docs/training_free.md §8
EXPECTED = {
    'maskclip': {12: dict(blocks='last (12)'), 24: dict(blocks='last (24)')},
    'vanilla': {12: dict(blocks='last (12)'), 24: dict(blocks='last (24)')},
    'sclip': {12: dict(blocks='last (12)'), 24: dict(blocks='last (24)')},
    'clearclip': {12: dict(blocks='last (12)'), 24: dict(blocks='last (24)')},
    'naclip': {12: dict(blocks='last (12)', sigma_patches=5.0), 24: dict(blocks='last (24)', sigma_patches=5.0)},
    'sc_clip': {12: dict(pre=9, post=4, multi='4-10', cls_weight=0.3),
                24: dict(pre=16, post=6, multi='8-19', cls_weight=0.1)},
    'sfp': {12: dict(pre=9, post=4, multi='4-10', cls_weight=0.3),
            24: dict(pre=16, post=6, multi='8-19', cls_weight=0.1)},
    'resclip': {12: dict(rcs_blocks='6-9', sigma_patches=5.0), 24: dict(rcs_blocks='6-9', sigma_patches=5.0)},
    'cliper': {12: dict(fused_blocks='1-11', layers=12), 24: dict(fused_blocks='1-23', layers=24)},
    'gem': {12: dict(blocks='7-12', last_n=6), 24: dict(blocks='19-24', last_n=6)},
}
# the tiny stand-ins: (name, vision blocks, patch, image size); ViT-B/32-like and ViT-L/14@336-like
TINY_TOWERS = {'reclip-test-b32': (12, 32, 224), 'reclip-test-l14-336': (24, 14, 336)}


def test_each_mode_chooses_its_constants_by_depth():
    assert set(EXPECTED) == set(DENSE_MODES)
    for mode, by_depth in EXPECTED.items():
        for depth, want in by_depth.items():
            got, source = mode_constants(mode, depth, patch_size=16)
            assert {k: got[k] for k in want} == want, (mode, depth, got)
            assert source, (mode, depth)
    # NACLIP's σ stays in patches, whatever the patch size: its extent in pixels follows the patch
    assert mode_constants('naclip', 12, patch_size=32)[0]['sigma_pixels'] == 160.0
    assert mode_constants('naclip', 24, patch_size=14)[0]['sigma_pixels'] == 70.0
    # ResCLIP's patch labels are patch-sized; RCS blocks can be set (any depth), else a depth without them refuses
    assert mode_constants('resclip', 12, patch_size=32)[0]['patch_labels'] == '32x32 px'
    assert mode_constants('resclip', 32, resclip=dict(rcs_blocks=(12, 13, 14, 15, 16, 17, 18)))[0]['rcs_blocks'] \
        == '12-18'
    with pytest.raises(ValueError, match=r"'resclip' has RCS blocks for ViTs of \[12, 24\] blocks, not 32: set "
                                         r"model\.backbone\.resclip\.rcs_blocks"):
        mode_constants('resclip', 32)
    with pytest.raises(ValueError, match=r"rcs_blocks.*1\.\.11 for this 12-block ViT.*\(6, 12\)"):
        mode_constants('resclip', 12, resclip=dict(rcs_blocks=(6, 12)))
    for mode in ('sc_clip', 'sfp'):
        with pytest.raises(ValueError, match=rf"dense mode '{mode}' .* \[12, 24\] blocks \(ViT-B, ViT-L\), not 32"):
            mode_constants(mode, 32)
    assert mode_constants('gem', 24, gem=dict(blocks=8))[0] == dict(blocks='17-24', last_n=8)
    assert mode_constants('cliper', 24, cliper=dict(logit_scale=50.0, attention_thr=0.2))[0]['logit_scale'] == 50.0


@pytest.fixture(scope='module')
def tiny_towers(tmp_path_factory):
    """Registers the two tiny stand-ins with open_clip (untrained; built with ``allow_random_weights``)."""
    import open_clip
    folder = tmp_path_factory.mktemp('model_configs')
    for name, (layers, patch, size) in TINY_TOWERS.items():
        cfg = dict(embed_dim=32, quick_gelu=True,
                   vision_cfg=dict(image_size=size, layers=layers, width=64, head_width=32, patch_size=patch),
                   text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=1))
        (folder / f'{name}.json').write_text(json.dumps(cfg))
    open_clip.add_model_config(folder)
    return {name: dict(model_name=name, pretrained=None, allow_random_weights=True) for name in TINY_TOWERS}


class LogLines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _run(encoder, size, n_classes=3):
    torch.manual_seed(0)
    x = torch.randn(1, 3, *size)
    text = F.normalize(torch.randn(n_classes, encoder.embed_dim), dim=-1) if encoder.needs_text else None
    with torch.no_grad():
        return encoder(x, text=text)


def _check_outputs(out, encoder, size, n_classes=3):
    p = encoder.patch_size
    grid = (-(-size[0] // p), -(-size[1] // p))  # the tower pads to whole patches
    assert out.dense.shape == (1, encoder.embed_dim, *grid)
    assert out.pos.shape == (1, encoder.width, *grid)
    assert out.global_embed.shape == (1, encoder.embed_dim)
    assert torch.isfinite(out.dense).all() and torch.isfinite(out.global_embed).all()
    if encoder.dense_mode == 'cliper':
        assert out.scores.shape == (1, n_classes, *grid) and torch.isfinite(out.scores).all()
    else:
        assert out.scores is None


def test_every_mode_builds_runs_and_logs_its_constants_on_tiny_towers_shaped_as_the_other_clips(tiny_towers):
    """12 blocks / 32-px patches (ViT-B/32) and 24 blocks / 14-px patches / 24 x 24 positions (ViT-L/14@336)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    handler, level, threads = LogLines(), logger.level, torch.get_num_threads()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    torch.set_num_threads(1)  # tiny tensors: one thread is faster on a loaded 2-core machine
    try:
        for name, clip in tiny_towers.items():
            depth, patch, _ = TINY_TOWERS[name]
            size = (4 * patch, 5 * patch - 3)  # 4 x 5 grid (the last column padded); not square
            if depth == 24:
                size = (7 * patch, 6 * patch)  # LOF's 30 neighbours need 31 tokens or more to mean something
            for mode in DENSE_MODES:
                handler.lines.clear()
                encoder = CLIPViT(clip=clip, dense_mode=mode).eval()
                lines = [ln for ln in handler.lines if ln.startswith(f'CLIPViT dense_mode={mode!r}')]
                assert len(lines) == 1, (mode, handler.lines)
                assert f"on '{name}' ({depth} blocks, {patch}-px patches" in lines[0]
                for key, value in EXPECTED[mode][depth].items():
                    assert f'{key}={value}' in lines[0], (mode, lines[0])
                _check_outputs(_run(encoder, size), encoder, size)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        torch.set_num_threads(threads)


def test_resclip_takes_its_rcs_blocks_from_the_config_on_any_depth(tiny_towers):
    with pytest.raises(ValueError, match=r"'resclip' has RCS blocks for ViTs of \[12, 24\] blocks, not 2"):
        CLIPViT(clip=TINY_CLIP, dense_mode='resclip')
    encoder = CLIPViT(clip=TINY_CLIP, dense_mode='resclip', resclip=dict(rcs_blocks=[1])).eval()
    trace = {}
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        encoder(x, text=F.normalize(torch.randn(2, encoder.embed_dim), dim=-1), trace=trace)
        ref = encoder._tokens_before_last_block(x, hook=(frozenset({1}), lambda b, a, y: trace.setdefault('a1', a)))
    torch.testing.assert_close(trace['rcs'], trace['a1'])  # R = block 1's attention alone
    assert ref[2:] == (4, 4)


# The three architectures the issue names, with input sizes that keep ViT-L cheap on a CPU (grid = input / patch).
OTHER_CLIPS = {'ViT-B-32': (12, 32, (224, 288)), 'ViT-L-14': (24, 14, (112, 154)),
               'ViT-L-14-336': (24, 14, (168, 140))}


@pytest.mark.slow
@pytest.mark.parametrize('model_name', sorted(OTHER_CLIPS))
def test_every_mode_builds_and_runs_on_the_other_clips_with_random_weights(model_name):
    """Every dense mode on the real architecture (open_clip config, random weights through the loader): per-depth
    constants as the table, output on the grid input / patch, finite. ~1-3 minutes per ViT-L on 2 CPU cores."""
    from reclip_mmseg.clip import loader
    depth, patch, size = OTHER_CLIPS[model_name]
    clip = dict(model_name=model_name, pretrained=None, allow_random_weights=True)
    start = time.time()
    try:
        for mode in DENSE_MODES:
            encoder = CLIPViT(clip=clip, dense_mode=mode).eval()
            assert len(encoder.visual.transformer.resblocks) == depth and encoder.patch_size == patch
            got, _ = mode_constants(mode, depth, patch, naclip_sigma=encoder.naclip_sigma, resclip=encoder.resclip,
                                    cliper=encoder.cliper, gem=encoder.gem)
            assert {k: got[k] for k in EXPECTED[mode][depth]} == EXPECTED[mode][depth]
            _check_outputs(_run(encoder, size), encoder, size)
    finally:
        for key in [k for k in loader._LOADED if k[0] == model_name]:
            del loader._LOADED[key]  # ViT-L's 1.7 GB go back before the next architecture
    print(f'{model_name}: {len(DENSE_MODES)} modes in {time.time() - start:.0f} s')
