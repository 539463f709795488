"""What tools/train.py and tools/test.py share: the config from the command line, and distributed launch on
machines without a GPU (MMEngine's 'pytorch' launcher calls torch.cuda.set_device and fails there)."""
import logging
import os
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log

from .files import iteration_checkpoints


def add_config_arguments(parser) -> None:
    """The arguments tools/train.py and tools/test.py share with MMSeg's: overrides and the launcher."""
    from mmengine.config import DictAction
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value (e.g. model.decode_head.bias_mode=add)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser):
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path: str, cfg_options=None, launcher: str = 'none', work_dir=None) -> Config:
    if not os.path.isfile(path):
        raise FileNotFoundError(f'config file {path} does not exist')
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    from ..datasets.from_config import resolve_hypothesis_file
    resolve_hypothesis_file(cfg)
    ensure_data_checks(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = os.path.join('./work_dirs', os.path.splitext(os.path.basename(path))[0])
    if launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)
    return cfg


def ensure_data_checks(cfg: Config) -> None:
    """Every config run by these tools gets ``CheckClassNamesHook`` (a hand-written config without the project's
    runtime base would otherwise score a head's classes against another dataset's labels and print an mIoU)
    and ``CheckImageFilesHook`` (empty, unreadable or degenerate image files are named before anything runs,
    instead of failing deep in MMSeg's pipeline without the file name). The class-name hook does nothing for
    models without a text-classifying head. Scope-qualified, so they are found even when the config sets no
    ``default_scope``."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    for name in ('CheckClassNamesHook', 'CheckImageFilesHook'):
        if not any(str(h.get('type', '')).split('.')[-1] == name for h in hooks):
            hooks.append(dict(type=f'mmseg.{name}'))
    cfg.custom_hooks = hooks


def setup_cpu_distributed(cfg: Config) -> None:
    """Initialise a gloo process group from torchrun's environment before MMEngine's Runner is built (it then
    skips its own CUDA-only initialisation), and make DDP wrap CPU modules (no device_ids)."""
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.env_cfg = cfg.get('env_cfg', {})
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg', None) or dict(type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if cfg.get('sync_bn', None):
        print_log('SyncBN needs GPUs; plain BN is used on CPU ranks', logger='current', level=logging.WARNING)
        cfg.sync_bn = None


def loadable_resume_checkpoint(work_dir: str):
    """(path, skipped): the checkpoint ``--resume`` should use. MMEngine resumes from the file named in
    ``work_dir/last_checkpoint``; if that file does not load (truncated by a kill mid-write, deleted), the newest
    ``iter_*.pth`` that loads is used instead, and the skipped files are returned for a warning. (None, [])
    when there is nothing to resume."""
    named = None
    last = os.path.join(work_dir, 'last_checkpoint')
    if os.path.isfile(last):
        with open(last) as f:
            named = f.read().strip() or None
    candidates = ([named] if named else []) + [p for p in iteration_checkpoints(work_dir) if p != named]
    skipped = []
    for path in candidates:
        try:
            torch.load(path, map_location='cpu', weights_only=True)
            return path, skipped
        except Exception:  # noqa: BLE001 - any unreadable checkpoint is skipped, and said
            skipped.append(path)
    return None, skipped


def end_distributed() -> None:
    """End a distributed tool run: barrier, destroy the default process group, then leave the process at once.

    Left to interpreter shutdown, gloo's threads can outlive Python and abort the process ("terminate called
    without an active exception", SIGABRT) after the run has finished; torchrun then reports the whole run as
    failed. Destroying the group first made this rarer but not impossible (seen once in ~10 CI runs, after a
    finished 2-rank test), so a distributed rank flushes its logs and streams and exits with ``os._exit(0)``,
    which skips the C++ static destructors where the abort happens. Call it last: nothing after it runs in a
    distributed process. The barrier keeps one rank from tearing down while another still talks.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        if dist.get_rank() == 0:
            # MMEngine's CPU result collection removes its temporary folder but leaves '.dist_test/' in the working
            # directory; remove it when empty (never anything another run may still be writing).
            try:
                os.rmdir('.dist_test')
            except OSError:
                pass
        dist.destroy_process_group()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
