"""Every authors' preset (configs/training_free/authors/*.py, issue 24) through tools/test.py, end to end: the tiny
untrained CLIP on a synthetic tree of the preset's dataset in its official layout (one image; two for Cityscapes);
the metrics JSON the tool wrote must hold a finite mIoU in [0, 100] and the count of evaluated images. The fast
tests (test_authors_protocols.py, test_cliper_authors.py) pin every value and run three presets; this runs them all."""
import glob
import math
import os

import pytest
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmseg.registry import METRICS

from conftest import ROOT, run_tool_in_process, test_metrics
from synthetic import (make_ade_tree, make_cityscapes_tree, make_coco_stuff164k_tree, make_context_tree,
                       make_voc_tree)

PRESET_DIR = os.path.join(ROOT, 'configs', 'training_free', 'authors')
PRESETS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(PRESET_DIR, '*.py')))
# The val images of each dataset token's tree ({method}_vit-b16_{dataset}.py; no train image): one, two for
# Cityscapes, whose CLIPer dataset maps each image to two halves (this repository's index, not MMSeg's).
SIZES = dict(voc21=1, voc20=1, context60=1, context59=1, cocoobject=1, cocostuff171=1, cityscapes=2, ade20k=1)
TREES = {'voc21': lambda r, n: make_voc_tree(r, n_train=0, n_val=n),
         'voc20': lambda r, n: make_voc_tree(r, n_train=0, n_val=n),
         'context60': lambda r, n: make_context_tree(r, n=(0, n)),
         'context59': lambda r, n: make_context_tree(r, n=(0, n)),
         'cocoobject': lambda r, n: make_coco_stuff164k_tree(r, n=(0, n)),
         'cocostuff171': lambda r, n: make_coco_stuff164k_tree(r, n=(0, n)),
         'cityscapes': lambda r, n: make_cityscapes_tree(r, n=(0, n)),
         'ade20k': lambda r, n: make_ade_tree(r, n=(0, n))}
# CLIPer's Cityscapes preset scores each image as its two halves (docs/training_free.md §6.5)
HALVES = {'cliper_vit-b16_cityscapes.py'}
# the modes that need ViT-B's 12 blocks (block indices) run on the 12-block tiny CLIP, as in test_training_free.py
DEEP = ('sc-clip', 'sfp', 'resclip', 'cliper')


pytestmark = pytest.mark.usefixtures('one_thread')  # tiny tensors (conftest.py)


@METRICS.register_module(force=True)
class EvaluatedImagesMetric(BaseMetric):
    """Counts the samples its evaluator is given (one per evaluated image, or half), so the count lands in the
    metrics JSON next to the preset's own metric."""

    def process(self, data_batch, data_samples):
        self.results.extend(os.path.basename(s['img_path']) for s in data_samples)

    def compute_metrics(self, results):
        # a float: MMEngine's JSON dump drops a numpy integer (the message hub stores scalars as numpy values)
        return dict(evaluated_images=float(len(results)), evaluated_files=sorted(results))


@pytest.fixture(scope='module')
def data_roots(tmp_path_factory):
    return {d: make(str(tmp_path_factory.mktemp(d)), SIZES[d]) for d, make in TREES.items()}


def _tiny_clip_options(cfg, name):
    """The tiny CLIP on every CLIP the config builds (each dict with a model_name), or a failure naming one the
    overrides would miss: never real weights, never a silent fallback."""
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            if 'model_name' in node:
                found.append(where)
            for k, v in node.items():
                walk(v, f'{where}.{k}')
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, f'{where}.{i}')
    walk(cfg.model.to_dict(), '.model')  # the top-level `clip` is only the value the model's copies are made of
    wanted = ['.model.backbone.clip', '.model.decode_head.text_encoder.clip']
    assert sorted(found) == sorted(wanted), found
    return [f'{w[1:]}.{k}' for w in wanted for k in (f'model_name={name}', 'pretrained=None')]


@pytest.mark.slow  # 56 cases, 2 min 32 s on one thread of the 2-core machine (1-3 s each; ResCLIP on 171 classes 15 s)
@pytest.mark.parametrize('preset', PRESETS)
def test_every_authors_preset_runs_through_tools_test(preset, data_roots, tmp_path):
    assert len(PRESETS) == 56, PRESETS  # 7 methods x 8 datasets: a lost (or stray) file fails every case
    method, dataset = preset[:-3].split('_vit-b16_')
    assert dataset in TREES, preset
    path = os.path.join(PRESET_DIR, preset)
    cfg = Config.fromfile(path)
    tiny = _tiny_clip_options(cfg, 'reclip-tiny-deep' if method in DEEP else 'reclip-tiny')
    # the preset as it is, plus a second evaluator that counts what was evaluated (the JSON holds no count)
    evaluator = cfg.test_evaluator.to_dict()
    config = tmp_path / preset
    config.write_text(f'_base_ = [{path!r}]\n'
                      f'test_evaluator = [{evaluator!r}, dict(type={EvaluatedImagesMetric.__name__!r})]\n')
    opts = tiny + [f'test_dataloader.dataset.data_root={data_roots[dataset]}', 'test_dataloader.num_workers=0',
                   'test_dataloader.persistent_workers=False']
    run_tool_in_process('test.py', config, '--work-dir', tmp_path / 'wd', '--cfg-options', *opts)
    metrics = test_metrics(tmp_path / 'wd')  # the JSON under wd/<timestamp>/; mIoU in [0, 100]
    assert isinstance(metrics['mIoU'], float) and math.isfinite(metrics['mIoU']), metrics
    copies = 2 if preset in HALVES else 1
    assert metrics['evaluated_images'] == SIZES[dataset] * copies, metrics
    # every image of the tree (all val: the trees hold no train image), each once (twice as halves), none other
    root = data_roots[dataset]
    images = sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, '**', '*'), recursive=True)
                    if p.endswith(('.jpg', '_leftImg8bit.png')))
    assert len(images) == SIZES[dataset] and metrics['evaluated_files'] == sorted(images * copies), (images, metrics)
