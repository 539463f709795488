"""Fidelity defects of issue 14, item 1, each against an independent computation or the injected fault."""
import json
import math
import os
import subprocess
import sys

import open_clip
import pytest
import torch

from conftest import ROOT, TINY_CLIP, run_tool, tiny_options, train_scalars
from reclip_mmseg.clip import OpenCLIPTextEncoder
from reclip_mmseg.datasets import window_boxes
from reclip_mmseg.datasets.from_config import hypothesis_params
from reclip_mmseg.models import RectifiedMaskDecoder, ReferencePromptLearner

RECTIFY = 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'
SOS, EOT = 49406, 49407


@pytest.fixture(scope='module')
def text():
    return OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=False)


def _reference_by_hand(text, context, name, num_context):
    """Build the 77 ids from the tokenizer's BPE ids, pick the read position by docs/reclip_pp.md §3's rule written out (the
    EOT if it fits, else the highest id among the name positions), run open_clip's own text tower on the
    embedded sequence and read there."""
    model = text.clip_model
    bpe = open_clip.tokenizer._tokenizer.encode(name)
    n_name = 77 - 1 - num_context
    name_part = (bpe + [EOT] + [0] * 77)[:n_name]
    read = 1 + num_context + max(range(n_name), key=lambda i: (name_part[i], -i))
    ids = torch.tensor([SOS] + [0] * num_context + name_part)
    emb = model.token_embedding(ids)
    x = torch.cat([emb[:1], context, emb[1 + num_context:]]) + model.positional_embedding
    x = model.transformer(x[None], attn_mask=model.attn_mask)
    x = model.ln_final(x)[0, read]
    return x @ model.text_projection, read


def test_truncated_long_names_are_read_at_their_highest_name_token(text):
    names = ['chest of drawers', 'skyscraper', 'conveyer belt', 'cat']
    learner = ReferencePromptLearner(text, names, num_context=73, normalize='none')
    learner.context.data.normal_(0, 0.02)
    ours = learner().detach()
    for i, name in enumerate(names):
        ref, read = _reference_by_hand(text, learner.context.detach(), name, 73)
        assert read >= 74  # never SOS (0) nor a context position
        torch.testing.assert_close(ours[i], ref.detach(), rtol=1e-4, atol=1e-5)
    # the three cut names no longer share one vector (before the fix all were read at SOS)
    assert torch.cdist(ours[:3], ours[:3]).triu(1)[torch.ones(3, 3).triu(1).bool()].min() > 1e-4


@pytest.mark.parametrize('num_classes', [20, 150])
def test_decoder_conv_starts_at_the_release_kaiming_fan_out_init(num_classes):
    torch.manual_seed(0)
    dec = RectifiedMaskDecoder(512, num_classes)
    w = dec.conv.weight
    expected_std = math.sqrt(2.0 / (25 * num_classes))  # fan_out = C_out * 5 * 5, gain sqrt(2)
    assert abs(float(w.std()) / expected_std - 1) < 0.03 and abs(float(w.mean())) < 0.05 * expected_std
    assert float(dec.norm.weight.min()) == 1.0 and float(dec.norm.bias.abs().max()) == 0.0
    default = RectifiedMaskDecoder(512, num_classes, weight_init='pytorch').conv.weight
    # PyTorch's default: U(-b, b), b = 1/sqrt(fan_in) -> std 1/sqrt(3 fan_in), ~12x smaller at C=20
    assert abs(float(default.std()) * math.sqrt(3 * 25 * (512 + num_classes)) - 1) < 0.03
    with pytest.raises(ValueError, match='weight_init'):
        RectifiedMaskDecoder(512, num_classes, weight_init='xavier')


def test_release_window_enumeration_is_end_exclusive():
    boxes = window_boxes(150, 200, 56, 28)
    xs = sorted({b[0] for b in boxes})
    ys = sorted({b[1] for b in boxes})
    assert xs == list(range(0, 200 - 56, 28)) and ys == list(range(0, 150 - 56, 28)) and len(boxes) == 24
    assert len(window_boxes(150, 200, 56, 28, cover='full')) == 35
    assert window_boxes(56, 56, 56, 28) == [(0, 0, 56, 56)]  # one window exactly the image: kept
    with pytest.raises(ValueError, match='cover'):
        window_boxes(150, 200, 56, 28, cover='edges')


def test_window_defaults_are_the_release_per_dataset():
    from mmengine.config import Config
    sides = {}
    from conftest import RECLIP_DATASETS, reclip_config
    for name in RECLIP_DATASETS:
        cfg = Config.fromfile(f'{ROOT}/{reclip_config("reclip_pp", name)}')
        params = hypothesis_params(cfg)  # what gen_hypotheses makes and the train pipeline checks
        assert params['window_cover'] == 'release' and params['min_vote_share'] == 0.0 and params['batch_size'] == 64
        assert params['window_size'] == min(cfg.crop_size) // 6 and 'derived' not in params
        sides[name] = (params['window_size'], params['window_stride'])
        # the dataset base states only the per-dataset side and stride; the rest is the library's one default
        assert set(cfg.hypotheses) == {'window_size', 'window_stride'}
        del cfg.hypotheses['window_size'], cfg.hypotheses['window_stride']
        derived = hypothesis_params(cfg)  # without them: crop / 6 and half of it, said so
        assert (derived['window_size'], derived['window_stride']) == sides[name] and 'crop_size' in derived['derived']
    assert sides == dict(voc20=(56, 28), context59=(80, 40), ade20k=(85, 42), cityscapes=(85, 42),
                         cocostuff27=(85, 42))


def _registry_snapshot_script(import_plugin: bool) -> str:
    return f'''
import json, importlib
mods = ['mmengine.registry', 'mmcv', 'mmcv.ops', 'mmcv.transforms', 'mmseg.registry', 'mmseg.models', 'mmseg.datasets',
        'mmseg.evaluation', 'mmseg.engine', 'mmseg.visualization', 'mmpretrain.registry', 'mmpretrain.models',
        'mmpretrain.datasets', 'mmpretrain.evaluation', 'mmpretrain.engine']
for m in mods:
    importlib.import_module(m)
from mmengine.registry import Registry
import gc
regs = [o for o in gc.get_objects() if isinstance(o, Registry)]
def snap():
    return {{f'{{r.scope}}.{{r.name}}.{{id(r)}}': {{k: f'{{id(v)}}:{{getattr(v, "__module__", "")}}.'
             f'{{getattr(v, "__qualname__", repr(v))}}' for k, v in r.module_dict.items()}} for r in regs}}
before = snap()
if {import_plugin}:
    import reclip_mmseg
after = snap()
print(json.dumps(dict(before=before, after=after)))
'''


def test_importing_the_plugin_changes_no_upstream_registry_entry():
    proc = subprocess.run([sys.executable, '-c', _registry_snapshot_script(True)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    snap = json.loads(proc.stdout.strip().splitlines()[-1])
    before, after = snap['before'], snap['after']
    changed = [(reg, k) for reg, entries in before.items() for k, v in entries.items() if after[reg].get(k) != v]
    assert not changed, f'the plugin replaced upstream entries: {changed}'
    upstream_names = {k for entries in before.values() for k in entries}
    added = {k for reg, entries in after.items() for k in entries if k not in before[reg]}
    assert added and 'OpenCLIPTextEncoder' in added and 'CLIPViT' in added
    assert not added & upstream_names, f'plugin names equal to upstream names: {added & upstream_names}'
    from mmseg.registry import MODELS
    assert MODELS.get('CLIPTextEncoder').__module__.startswith('mmseg.')  # MMSeg's (SAN's) class


def test_old_text_encoder_name_in_a_config_is_translated_with_a_warning():
    from mmseg.registry import MODELS
    with pytest.warns(DeprecationWarning, match='OpenCLIPTextEncoder'):
        head = MODELS.build(dict(type='MaskCLIPHead', class_names=['cat', 'dog'],
                                 text_encoder=dict(type='CLIPTextEncoder', clip=TINY_CLIP, cache_dir=False)))
    assert type(head.text_encoder).__name__ == 'OpenCLIPTextEncoder'


def test_changed_data_root_moves_the_hypothesis_file_for_both_tools(voc_root, tmp_path):
    """No hypothesis_file override: only data_root changes, and both tools find the file under it."""
    # the same options to both commands: a file made with other window settings than the config's is refused
    opts = [o for o in tiny_options(voc_root, iters=2, interval=2)] + ['hypotheses.window_size=32',
                                                                      'hypotheses.window_stride=16']
    run_tool('tools/gen_hypotheses.py', RECTIFY, '--cfg-options', *opts)
    written = os.path.join(voc_root, 'hypotheses', 'reclip_pp', 'voc20_train.json')
    assert os.path.isfile(written) and json.load(open(written))['complete']
    run_tool('tools/train.py', RECTIFY, '--work-dir', str(tmp_path), '--cfg-options', *opts)
    assert max(r['step'] for r in train_scalars(tmp_path)) == 2  # both iterations ran on the hypotheses
    os.remove(written)


def test_gen_hypotheses_derives_the_window_from_the_crop_size_and_says_so(voc_root, tmp_path):
    out = str(tmp_path / 'h.json')
    script = ('import runpy, sys; from mmengine.config import Config; orig = Config.fromfile\n'
              'def fromfile(*a, **k):\n    cfg = orig(*a, **k); cfg.pop("hypotheses"); return cfg\n'
              'Config.fromfile = staticmethod(fromfile)\n'
              f'sys.argv = ["gen_hypotheses.py", "{RECTIFY}", "--out", "{out}", "--cfg-options", '
              + ', '.join(f'"{o}"' for o in tiny_options(voc_root)) + ', "crop_size=(60,60)"]\n'
              'runpy.run_path("tools/gen_hypotheses.py", run_name="__main__")\n')
    proc = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'crop_size (60, 60) / 6 = 10 px' in proc.stdout
    assert json.load(open(out))['window_size'] == 10 and json.load(open(out))['window_stride'] == 5
