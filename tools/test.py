"""Evaluate a config (and checkpoint) with MMSeg's evaluators: MMSeg's command line.

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--out DIR] [--show-dir DIR] [--cfg-options ...]

CHECKPOINT may be left out for training-free configs (configs/maskclip); a rectification or distillation
checkpoint holds only trained weights, and frozen CLIP is rebuilt from the config's weight source.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import reclip_mmseg  # noqa: E402,F401
from reclip_mmseg.utils.launch import add_config_arguments, end_distributed, load_config, parse_tool_args  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None, help='checkpoint file (none: training-free model)')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str, help='directory to save the predicted segmentation maps (PNG)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory for painted images (relative: inside work_dir), in SHOW_DIR/vis_data/vis_image')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test time augmentation')
    parser.add_argument('--bias-metric', nargs='?', const='', metavar='CURVE_JSON',
                        help="add BiasMetric (class- and space-preference scores) to the test evaluator; optional "
                             "file for the space-preference curve (tools/plot_space_bias.py)")
    add_config_arguments(parser)
    return parse_tool_args(parser)


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    if args.checkpoint is not None and not os.path.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    cfg.load_from = args.checkpoint
    # Testing needs only the test data: without this, MMEngine builds the train loop (and so the train dataset
    # and its hypotheses) the first time a hook asks for runner.iter, e.g. the visualisation hook (--show-dir).
    cfg.train_dataloader = cfg.train_cfg = cfg.optim_wrapper = cfg.param_scheduler = None
    if args.show or args.show_dir:
        vis = cfg.default_hooks.visualization
        vis.draw = True
        vis.interval = 1
        vis.show = args.show
        vis.wait_time = args.wait_time
        if args.show_dir:  # a relative folder is taken inside work_dir (painted images in vis_data/vis_image)
            cfg.visualizer.save_dir = os.path.join(cfg.work_dir, args.show_dir)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.bias_metric is not None:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [dict(type='BiasMetric', curve_file=args.bias_metric or None)]
    if args.out is not None:  # the prediction maps are IoUMetric's to write
        for evaluator in (cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]):
            if evaluator.get('type') in ('IoUMetric', 'ZeroShotIoUMetric'):
                evaluator['output_dir'] = args.out
                evaluator['keep_results'] = True
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.test()
    end_distributed()


if __name__ == '__main__':
    main()
