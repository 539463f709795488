"""The class- and space-preference bias (BiasMetric, the paper's Table VII) of every training-free dense mode on
one dataset, as a table.

    python tools/dense_mode_bias.py DATASET [--modes maskclip sclip ...] [--out table.md] [--cfg-options ...]

DATASET is a name of configs/training_free/_base_/ (voc20, context59, ade20k, cityscapes, cocostuff27, cocoobject, ...).
Each mode runs configs/training_free/{mode}_vit-b16_{DATASET}.py through MMEngine's Runner with IoUMetric and BiasMetric.
The numbers mean something only with real CLIP weights; on the tiny CLIP the table says so. A mode that cannot
run on the given CLIP (sc_clip, sfp and resclip need ViT-B's 12 blocks, gem at least 7; the 2-block reclip-tiny
has 2, reclip-tiny-deep 12) gets a 'not run' row with the reason, and the table of the modes that ran is still written (exit status 1
when no mode ran).
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
from reclip_mmseg.engine.launch import load_config  # noqa: E402

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
    rows, skipped, tiny, clip_name = [], [], False, None
    for mode in args.modes:
        config = os.path.join(ROOT, 'configs', 'training_free', f'{mode.replace("_", "-")}_vit-b16_{args.dataset.replace("coco_stuff", "cocostuff")}.py')
        cfg = load_config(config, args.cfg_options, work_dir=os.path.join(work, mode))
        cfg.test_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='BiasMetric')]
        clip_name = cfg.model.backbone.clip.get('model_name')
        tiny = tiny or clip_name in TINY_MODEL_NAMES
        try:
            metrics = Runner.from_cfg(cfg).test()
        except (ValueError, RuntimeError) as err:  # a mode this CLIP cannot run (e.g. sc_clip on a 2-block ViT)
            reason = ' '.join(str(err).split())
            print(f'{mode}: not run: {type(err).__name__}: {reason}', file=sys.stderr)
            skipped.append((mode, f'{type(err).__name__}: {reason[:300]}'))
            continue
        rows.append((mode, metrics['mIoU'], metrics['bias/class_pref_score'], metrics['bias/space_pref_slope']))
    lines = [f'Bias of each dense mode on {args.dataset} (class-preference score: higher is better; space-preference '
             f'slope: closer to 0 is better)', '', '| mode | mIoU | class-preference score | space-preference slope |',
             '|---|---|---|---|']
    lines += [f'| {m} | {miou:.2f} | {c:.3f} | {s:.3f} |' for m, miou, c, s in rows]
    lines += [f'| {m} | not run | - | - |' for m, _ in skipped]
    if skipped:
        lines += [''] + [f'{m} was not run on CLIP {clip_name}: {why}' for m, why in skipped]
        if clip_name == 'reclip-tiny':
            lines.append('(the 12-block reclip-tiny-deep runs every mode: --cfg-options '
                         'model.backbone.clip.model_name=reclip-tiny-deep '
                         'model.decode_head.text_encoder.clip.model_name=reclip-tiny-deep)')
    if tiny:
        lines += ['', f'CLIP is {clip_name} (random, untrained): these numbers are meaningless; they show the '
                      f'command runs.']
    table = '\n'.join(lines)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    if not rows:
        sys.exit(1)


if __name__ == '__main__':
    main()
