"""Train a reclip_mmseg (or any MMSeg) config: MMSeg's command line.

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp] [--cfg-options k=v ...] [--launcher L]
"""
import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

import torch  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from reclip_mmseg.models.text_head import check_same_clip  # noqa: E402
import reclip_mmseg  # noqa: E402,F401  (registers the plugin; also fixes checkpoint loading on torch>=2.6)
from reclip_mmseg.engine.launch import (add_config_arguments, end_distributed, load_config,  # noqa: E402
                                       loadable_resume_checkpoint, parse_tool_args)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', action='store_true', default=False,
                        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument('--amp', action='store_true', default=False, help='enable automatic-mixed-precision (GPU)')
    add_config_arguments(parser)
    return parse_tool_args(parser)


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    if args.amp:
        if torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        else:
            print_log('--amp ignored: mixed precision training needs a GPU', logger='current', level=logging.WARNING)
    cfg.resume = args.resume
    if args.resume and cfg.get('load_from') is None:
        path, skipped = loadable_resume_checkpoint(cfg.work_dir)
        if skipped:
            print_log(f'--resume: {skipped} could not be loaded (truncated or missing); resuming from '
                      f'{path or "nothing (training starts afresh)"} instead', logger='current', level=logging.WARNING)
            cfg.load_from = path
            cfg.resume = path is not None
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    check_same_clip(getattr(runner.model, 'module', runner.model))  # image and text towers: one CLIP
    runner.train()
    if end_distributed():  # a distributed rank leaves at once (see end_distributed)
        os._exit(0)


if __name__ == '__main__':
    main()
