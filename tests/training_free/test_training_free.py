"""The training-free protocol (issue 16): every configs/training_free file checked and evaluated on a tiny tree of
its dataset layout with the tiny CLIP (12-block tiny CLIP for sc_clip / sfp / resclip / cliper / gem), two through
tools/test.py."""
import glob
import json
import os

import numpy as np
import pytest
from mmengine.config import Config

from conftest import ROOT, run_tool, test_metrics, train_scalars
from synthetic import _write_pair, known_label, make_ade_tree, make_cityscapes_tree, make_context_tree, make_voc_tree

MODES = ('maskclip', 'vanilla', 'sclip', 'clearclip', 'naclip', 'sc_clip', 'sfp', 'resclip', 'cliper', 'gem')
TINY_MODES = MODES[:5]  # the others need (or are published for) ViT-B's 12 blocks: they run on reclip-tiny-deep
DATASETS = ('voc20', 'voc21', 'context59', 'context60', 'ade20k', 'cityscapes', 'cocostuff27', 'cocostuff171',
            'cocoobject')


def tf_config(mode: str, dataset: str) -> str:
    """configs/training_free/{mode}_{backbone}_{dataset}.py (configs/README.md: hyphens inside a field, one dataset
    token); ``dataset`` is the vocabulary's name."""
    return f'configs/training_free/{mode.replace("_", "-")}_vit-b16_{dataset.replace("coco_stuff", "cocostuff")}.py'
TINY = [f'{w}.{k}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
        for k in ('model_name=reclip-tiny', 'pretrained=None')]


def test_every_mode_and_dataset_has_a_config_under_the_one_protocol():
    files = sorted(os.path.basename(f) for f in glob.glob(f'{ROOT}/configs/training_free/*.py'))
    assert files == sorted(os.path.basename(tf_config(m, d)) for m in MODES for d in DATASETS)
    for m in MODES:
        for d in DATASETS:
            cfg = Config.fromfile(f'{ROOT}/{tf_config(m, d)}')
            model = cfg.model
            assert model.type == 'CLIPSegmentor' and model.backbone.dense_mode == m
            assert model.test_cfg == dict(mode='slide', crop_size=(224, 224), stride=(112, 112))
            assert model.decode_head.class_names == d and model.decode_head.denoise_threshold == 0.0
            assert model.pamr == dict(enabled=False, iterations=10, dilations=(1, 2, 4, 8, 12, 24))
            assert model.logit_scale == 50.0
            assert model.prob_thd == (0.1 if d in ('voc21', 'context60', 'cocoobject') else 0.0)
            resize = [s for s in cfg.test_dataloader.dataset.pipeline if s.type == 'Resize'][0]
            assert min(resize.scale) == (560 if d == 'cityscapes' else 336) and resize.keep_ratio
            assert cfg.train_dataloader is None
            tta_scales = [t.scale for t in cfg.tta_pipeline[1].transforms[0]]
            assert min(tta_scales[2]) == min(resize.scale)  # ratio 1.0 is the protocol's test scale
            assert cfg.tta_pipeline[1].transforms[2] == [dict(type='LoadAnnotations')]  # the dataset decides


def _coco_tree(root, suffix, folder, n_classes):
    base = os.path.join(root, 'coco_stuff164k')
    for i in range(2):
        name = f'{i:012d}'
        _write_pair(f'{base}/images/val2017/{name}.jpg', f'{base}/{folder}/val2017/{name}{suffix}',
                    known_label(value=min(5, n_classes - 1), background=1), i)
    return base


def _tree(dataset, root):
    return {'voc20': lambda: make_voc_tree(root, n_train=1, n_val=2), 'voc21': lambda: make_voc_tree(root, 1, 2),
            'context59': lambda: make_context_tree(root), 'context60': lambda: make_context_tree(root),
            'ade20k': lambda: make_ade_tree(root), 'cityscapes': lambda: make_cityscapes_tree(root),
            'cocostuff27': lambda: _coco_tree(root, '_labelTrainIds27.png', 'annotations27', 27),
            'cocostuff171': lambda: _coco_tree(root, '_labelTrainIds.png', 'annotations', 171),
            'cocoobject': lambda: _coco_tree(root, '_instanceTrainIds.png', 'annotations', 81)}[dataset]()


# The command line on two configs (PAMR and the background rule on one, a 12-block mode on the other); every
# config runs in process below.
@pytest.mark.parametrize('config,dataset,mode', [('configs/training_free/naclip_vit-b16_voc21.py', 'voc21', 'naclip'),
                                                 ('configs/training_free/sfp_vit-b16_ade20k.py', 'ade20k', 'sfp')])
def test_tools_test_runs_the_config_end_to_end(tmp_path, config, dataset, mode):
    assert config == tf_config(mode, dataset)
    data_root = _tree(dataset, str(tmp_path / 'data'))
    tiny = TINY if mode in TINY_MODES else [o.replace('reclip-tiny', 'reclip-tiny-deep') for o in TINY]
    opts = tiny + [f'test_dataloader.dataset.data_root={data_root}', 'test_dataloader.num_workers=0',
                   'test_dataloader.persistent_workers=False']
    if dataset == 'voc21':
        opts.append('model.pamr.enabled=True')  # PAMR through the real pipeline once
    run_tool('tools/test.py', config, '--work-dir', str(tmp_path / 'wd'),
             '--cfg-options', *opts)
    result = json.load(open(glob.glob(str(tmp_path / 'wd' / '*' / '*.json'))[0]))
    assert 0.0 <= result['mIoU'] <= 100.0 and np.isfinite(result['aAcc'])


def test_rectification_on_a_training_free_feature_trains_and_tests(voc_root, voc_hypotheses, tmp_path):
    from conftest import tiny_options
    from conftest import RECLIP_DATASETS, reclip_config
    for d in RECLIP_DATASETS:
        for m in ('clearclip', 'naclip', 'sfp'):
            cfg = Config.fromfile(f'{ROOT}/{reclip_config("reclip_pp", d, variant=m)}')
            assert cfg.model.backbone.dense_mode == m and cfg.model.decode_head.type == 'BiasRectifiedHead'
    config = 'configs/reclip_pp/reclip-pp-sfp_vit-b16_20k_voc20.py'  # on the 12-block tiny CLIP, as SFP needs
    deep = [o.replace('reclip-tiny', 'reclip-tiny-deep') for o in tiny_options(voc_root, voc_hypotheses, iters=2,
                                                                                 interval=2)]
    run_tool('tools/train.py', config, '--work-dir', str(tmp_path), '--cfg-options', *deep)
    assert max(r['step'] for r in train_scalars(tmp_path)) == 2  # both iterations ran and logged
    deep_test = [o.replace('reclip-tiny', 'reclip-tiny-deep') for o in tiny_options(voc_root)]
    run_tool('tools/test.py', config, str(tmp_path / 'iter_2.pth'), '--work-dir', str(tmp_path / 't'),
                    '--cfg-options', *deep_test)
    test_metrics(tmp_path / 't')


def test_dense_mode_bias_table_runs_and_says_tiny_numbers_are_meaningless(tmp_path):
    root = make_voc_tree(str(tmp_path / 'data'), n_train=1, n_val=2)
    out = tmp_path / 'bias.md'
    proc = run_tool('tools/dense_mode_bias.py', 'voc20', '--modes', 'maskclip', 'clearclip', '--out', str(out),
                    '--work-dir', str(tmp_path / 'wd'), '--cfg-options', *TINY,
                    f'test_dataloader.dataset.data_root={root}', 'test_dataloader.num_workers=0',
                    'test_dataloader.persistent_workers=False')
    table = out.read_text()
    assert '| maskclip |' in table and '| clearclip |' in table and 'meaningless' in table
    assert table in proc.stdout + '\n'


def _evaluate_in_process(pairs, tmp_path):
    """{mode}_{dataset} configs through MMEngine's Runner (what tools/test.py builds), one tiny tree per dataset
    layout; the modes after naclip on the 12-block tiny CLIP. In-process: the subprocess runs above cover the command
    line."""
    import logging
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner
    from conftest import options_dict
    roots = {d: _tree(d, str(tmp_path / d)) for d in sorted({d for _, d in pairs})}
    for mode, d in pairs:
        name = 'reclip-tiny' if mode in TINY_MODES else 'reclip-tiny-deep'
        opts = options_dict([o.replace('reclip-tiny', name) for o in TINY] + [
            f'test_dataloader.dataset.data_root={roots[d]}', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False', 'default_hooks.logger.interval=1000'])
        cfg = Config.fromfile(f'{ROOT}/{tf_config(mode, d)}')
        cfg.merge_from_dict(opts)
        cfg.work_dir = str(tmp_path / 'wd' / f'{mode}_{d}')
        cfg.log_level = 'WARNING'
        metrics = Runner.from_cfg(cfg).test()
        assert 0.0 <= metrics['mIoU'] <= 100.0, (mode, d, metrics)
    MMLogger.get_current_instance().setLevel(logging.INFO)


def test_each_training_free_mode_and_dataset_evaluates_in_process(tmp_path):
    """Every mode and every dataset at least once (10 of the 90 configs; all of them: the slow test below)."""
    # ResCLIP on a small vocabulary: its first pass refines every class channel with PAMR (45 s at 171 classes here)
    pairs = list(zip(MODES, DATASETS[:7] + ('voc21', 'cocoobject', 'cocostuff171')))
    assert {m for m, _ in pairs} == set(MODES) and {d for _, d in pairs} == set(DATASETS)
    _evaluate_in_process(pairs, tmp_path)


@pytest.mark.slow  # ~5 min on 2 cores (the 27 resclip / cliper / gem configs: 3 min 15 s on one thread)
def test_every_training_free_config_evaluates_in_process(tmp_path):
    _evaluate_in_process([(m, d) for m in MODES for d in DATASETS], tmp_path)
