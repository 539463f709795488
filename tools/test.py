"""Evaluate a config (and checkpoint) with MMSeg's evaluators: MMSeg's command line.

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--out DIR] [--show-dir DIR] [--cfg-options ...]

CHECKPOINT is left out for training-free configs (configs/training_free, configs/reclip_pp/maskclip-baseline_*; one given is refused
unless --ignore-checkpoint) and required for trained methods (ReCLIP++, ReCLIP, students, TagCLIP; --untrained runs
one without, a smoke test). A checkpoint holds only trained weights: frozen CLIP is rebuilt from the config's
weight source, and a checkpoint of another method, token count or class count is refused, naming what it is.
With --out DIR, DIR/manifest.json says complete=false while predictions are being written (and after an
interruption), complete=true with their count once the last one is written.
"""
import argparse
import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # runnable from a checkout

from mmengine.dist import get_dist_info  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from reclip_mmseg.models.text_head import check_same_clip  # noqa: E402
import reclip_mmseg  # noqa: E402,F401
from reclip_mmseg.engine.checkpoint_policy import check_test_checkpoint  # noqa: E402
from reclip_mmseg.utils.files import free_space  # noqa: E402
from reclip_mmseg.engine.launch import (MANIFEST, add_config_arguments, end_distributed,  # noqa: E402
                                       finish_prediction_manifest, load_config, parse_tool_args,
                                       remove_partial_predictions, start_prediction_manifest)


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
    parser.add_argument('--untrained', action='store_true',
                        help='test a trained method (ReCLIP++, ReCLIP, TagCLIP, a student) without its checkpoint: '
                             'random trained parts, a smoke test only')
    parser.add_argument('--ignore-checkpoint', action='store_true',
                        help='go on when a training-free config is given a checkpoint (it is not used)')
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
    # a trained method needs its checkpoint, a training-free one cannot use one: say so before building anything
    args.checkpoint = check_test_checkpoint(cfg.model, args.checkpoint, args.config, args.untrained,
                                            args.ignore_checkpoint)
    cfg.load_from = args.checkpoint
    if args.launcher != 'none' and args.checkpoint is None and not args.untrained:
        # a training-free model has no trainable parameter and DDP refuses such a module: MMEngine's separate
        # wrapper leaves frozen submodules unwrapped (evaluation only, nothing to synchronise)
        cfg.model_wrapper_cfg = dict(cfg.get('model_wrapper_cfg', None) or {}, type='MMSeparateDistributedDataParallel')
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
        # MMSeg's SegTTAModel merges the views' C-channel logits: the class-chunked label maps of CLIPSegmentor
        # (which drop them) are not enough there
        cfg.model.setdefault('test_cfg', {})['return_logits'] = True
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.bias_metric is not None:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [dict(type='BiasMetric', curve_file=args.bias_metric or None)]
    if args.out is not None:  # the prediction maps are the metric's to write (IoUMetric's and its kin)
        for evaluator in (cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]):
            if evaluator.get('type') in ('IoUMetric', 'ZeroShotIoUMetric', 'PresentClassIoUMetric'):
                evaluator['output_dir'] = args.out
                evaluator['keep_results'] = True
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    check_same_clip(getattr(runner.model, 'module', runner.model))  # image and text towers: one CLIP
    if args.out is None:
        runner.test()
    else:
        test_with_manifest(runner, args)
    if end_distributed():  # a distributed rank leaves at once (see end_distributed)
        os._exit(0)


def test_with_manifest(runner, args):
    """runner.test() with --out: DIR/manifest.json says complete=false from before the first prediction until the
    last one is written, then complete=true with the count; a full disk is named with the folder and its free
    space, and the prediction it cut short is removed."""
    rank, _ = get_dist_info()
    if rank == 0:
        start_prediction_manifest(args.out, args.config, args.checkpoint)
    try:
        runner.test()
    except OSError as err:
        if err.errno != errno.ENOSPC:
            raise
        removed = remove_partial_predictions(args.out)
        raise OSError(errno.ENOSPC, f'--out {args.out}: no space left on the device while writing the '
                                    f'predictions ({free_space(args.out)} on it now); '
                                    f'{"removed the partial file(s) " + ", ".join(removed) if removed else "no partial file was left"}. '
                                    f'{os.path.join(args.out, MANIFEST)} says complete=false: free some space (or '
                                    f'give another --out) and run again. ({err})') from err
    if rank == 0:
        manifest = finish_prediction_manifest(args.out, runner.test_dataloader.dataset, args.config, args.checkpoint)
        print_log(f"--out {args.out}: {manifest['count']} of {manifest['expected']} predictions, "
                  f"{MANIFEST} complete={str(manifest['complete']).lower()}", logger='current')


if __name__ == '__main__':
    main()
