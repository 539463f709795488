"""The class- and space-preference bias (BiasMetric, the paper's Table VII) of every training-free dense mode on
one dataset, as a table.

    python tools/dense_mode_bias.py DATASET [--modes maskclip sclip ...] [--out table.md] [--cfg-options ...]

DATASET is a name of configs/training_free/_base_/ (voc20, context59, ade20k, cityscapes, coco_stuff27, ...).
Each mode runs configs/training_free/{mode}_{DATASET}.py through MMEngine's Runner with IoUMetric and BiasMetric.
The numbers mean something only with real CLIP weights; on the tiny CLIP the table says so.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

from mmengine.config import DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import reclip_mmseg  # noqa: E402,F401
from reclip_mmseg.clip import TINY_MODEL_NAMES  # noqa: E402
from reclip_mmseg.clip.image_encoder import DENSE_MODES  # noqa: E402
from reclip_mmseg.utils.launch import load_config  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('dataset')
    parser.add_argument('--modes', nargs='+', default=list(DENSE_MODES), choices=DENSE_MODES)
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--out', help='also write the table (Markdown) here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    work = args.work_dir or tempfile.mkdtemp(prefix='dense_mode_bias_')
    rows = []
    for mode in args.modes:
        config = os.path.join(ROOT, 'configs', 'training_free', f'{mode}_{args.dataset}.py')
        cfg = load_config(config, args.cfg_options, work_dir=os.path.join(work, mode))
        cfg.test_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='BiasMetric')]
        metrics = Runner.from_cfg(cfg).test()
        rows.append((mode, metrics['mIoU'], metrics['bias/class_pref_score'], metrics['bias/space_pref_slope']))
        tiny = cfg.model.backbone.clip.get('model_name') in TINY_MODEL_NAMES
    lines = [f'Bias of each dense mode on {args.dataset} (class-preference score: higher is better; space-preference '
             f'slope: closer to 0 is better)', '', '| mode | mIoU | class-preference score | space-preference slope |',
             '|---|---|---|---|']
    lines += [f'| {m} | {miou:.2f} | {c:.3f} | {s:.3f} |' for m, miou, c, s in rows]
    if tiny:
        lines += ['', f'CLIP is {cfg.model.backbone.clip.model_name} (random, untrained): these numbers are meaningless; they show the '
                      f'command runs.']
    table = '\n'.join(lines)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')


if __name__ == '__main__':
    main()
