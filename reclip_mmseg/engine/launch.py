"""What tools/train.py and tools/test.py share: the config from the command line, and distributed launch on
machines without a GPU (MMEngine's 'pytorch' launcher calls torch.cuda.set_device and fails there)."""
import logging
import os
import sys
from typing import List, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import print_log

from ..utils.files import iteration_checkpoints, prediction_file_name
from ..utils.paths import config_roots, find_config


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
    found = find_config(path)
    if found is None:
        raise FileNotFoundError(f'config file {path} does not exist, neither from the working directory nor among '
                                f'the shipped configs ({", ".join(config_roots()) or "none found"})')
    cfg = Config.fromfile(found)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    warn_unknown_keys(cfg)
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


# Top-level keys MMEngine's Runner reads besides its __init__ arguments (Runner.from_cfg, self.cfg.get), and the
# ones MMSeg's tools and this project's tools read.
_RUNNER_CFG_KEYS = ('runner_type', 'model_wrapper_cfg', 'sync_bn', 'find_unused_parameters', 'compile',
                    'activation_checkpointing', 'efficient_conv_bn_eval', 'custom_imports', 'tta_model',
                    'tta_pipeline', 'launcher', 'work_dir', 'resume', 'load_from')


def known_config_keys() -> set:
    """Top-level config keys someone reads: MMEngine Runner's arguments and the keys it looks up, plus every name
    the shipped configs (and examples) assign at their top level (their shared variables: ``crop_size``,
    ``unseen_idx``...). Read from the files' syntax, without executing them."""
    import ast
    import glob
    import inspect
    from mmengine.runner import Runner
    keys = {p for p in inspect.signature(Runner.__init__).parameters if p != 'self'} | set(_RUNNER_CFG_KEYS)
    # the shipped configs where they are (a checkout's configs/ or an installed package's .mim/configs), and the
    # examples of a checkout
    paths = [p for root in config_roots() for sub in ('configs', 'examples')
             for p in glob.glob(os.path.join(root, sub, '**', '*.py'), recursive=True)]
    for path in paths:
        try:
            tree = ast.parse(open(path).read())
        except (OSError, SyntaxError):
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
            keys.update(t.id for t in targets if isinstance(t, ast.Name))
    return keys


def _accepted_arguments(cls) -> Optional[set]:
    """The keyword arguments ``cls(...)`` uses: the named parameters of every ``__init__`` up its MRO while the
    ``__init__`` passes ``**kwargs`` on (MMSeg's IoUMetric takes ``**kwargs`` and drops them, so a misspelt
    argument would pass silently). None when an ``__init__`` cannot be inspected."""
    import inspect
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        names.update(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
        if not any(p.kind == p.VAR_KEYWORD for p in params) or klass is object:
            break
    return names - {'self'}


def warn_unknown_keys(cfg: Config) -> List[str]:
    """Warn (and return the warnings) for top-level config keys nothing reads and for evaluator arguments the
    evaluator class does not take, with the closest known name: MMEngine keeps any top-level name, and MMSeg's
    IoUMetric swallows unknown arguments, so ``lod_from=`` or ``iou_metric=`` would pass without a word."""
    import difflib
    messages = []
    known = known_config_keys()
    unknown = sorted(k for k in cfg.keys() if k not in known and not k.startswith('_'))
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        if close:
            messages.append(f"config key '{key}' is read by nothing (not an argument of MMEngine's Runner, nor a key "
                            f"of this project's configs): did you mean '{close[0]}'?")
    for where in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(where, None)
        for i, ev in enumerate(evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]):
            if not isinstance(ev, dict) or not isinstance(ev.get('type'), str):
                continue
            cls = _metric_class(ev['type'], cfg.get('default_scope', None))
            accepted = None if cls is None else _accepted_arguments(cls)
            if not accepted:
                continue
            name = where if not isinstance(evaluators, (list, tuple)) else f'{where}.{i}'
            for arg in sorted(set(ev) - accepted - {'type', '_delete_', '_scope_'}):
                close = difflib.get_close_matches(arg, sorted(accepted), n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'?" if close else f'it takes {sorted(accepted)}'
                messages.append(f"{name}.{arg}: {cls.__name__} has no argument '{arg}' (it would be ignored); "
                                f'{hint}')
    for message in messages:
        print_log(message, logger='current', level=logging.WARNING)
    return messages


def _metric_class(type_name: str, scope: Optional[str]):
    from mmengine.registry import METRICS
    from mmseg.registry import METRICS as SEG_METRICS
    name = type_name.split('.')[-1]
    for registry in ((SEG_METRICS, METRICS) if scope in (None, 'mmseg') else (METRICS, SEG_METRICS)):
        cls = registry.get(type_name) if '.' in type_name else registry.get(name)
        if cls is not None:
            return cls
    return None


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


def end_distributed() -> bool:
    """End a distributed tool run: barrier, destroy the default process group, flush logs and streams. Returns
    True when it ended one, and the *tool* then leaves with ``os._exit(0)`` (the library never ends a process).

    Left to interpreter shutdown, gloo's threads can outlive Python and abort the process ("terminate called
    without an active exception", SIGABRT) after the run has finished; torchrun then reports the whole run as
    failed. Destroying the group first made this rarer but not impossible (seen once in ~10 CI runs, after a
    finished 2-rank test), so a distributed tool exits with ``os._exit(0)``, which skips the C++ static
    destructors where the abort happens. The barrier keeps one rank from tearing down while another still talks.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return False
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
    return True


# ---------------------------------------------------------------------------------------------------------------
# tools/test.py --out DIR: a manifest that says whether the set of predictions is complete, and a full disk named

MANIFEST = 'manifest.json'


def _write_manifest(out_dir: str, data: dict) -> None:
    import json
    from ..utils.files import atomic_save

    def dump(obj, path):
        with open(path, 'w') as f:
            json.dump(obj, f, indent=1)
    atomic_save(data, os.path.join(out_dir, MANIFEST), saver=dump)


def start_prediction_manifest(out_dir: str, config: str, checkpoint: Optional[str]) -> None:
    """Write ``DIR/manifest.json`` with ``complete: false`` before the first prediction (replacing the manifest of
    an earlier run in that folder): a run that is interrupted (Ctrl-C, a kill, a full disk) leaves it so."""
    os.makedirs(out_dir, exist_ok=True)
    _write_manifest(out_dir, dict(complete=False, config=config, checkpoint=checkpoint,
                                  note='tools/test.py --out is writing (or was interrupted while writing) these '
                                       'predictions; complete=true is written only after the last one'))


def finish_prediction_manifest(out_dir: str, dataset, config: str, checkpoint: Optional[str]) -> dict:
    """Rewrite ``DIR/manifest.json`` once every prediction is written: ``complete`` (every image of the test set
    has its PNG), ``count`` (PNGs of this test set found) and the file names."""
    from .hooks import dataset_samples
    expected = sorted(prediction_file_name(info) for info in dataset_samples(dataset) if info.get('img_path'))
    present = [name for name in expected if os.path.isfile(os.path.join(out_dir, name))]
    missing = sorted(set(expected) - set(present))
    data = dict(complete=not missing, count=len(present), expected=len(expected), config=config,
                checkpoint=checkpoint, files=present)
    if missing:
        data['missing'] = missing
    _write_manifest(out_dir, data)
    return data


def remove_partial_predictions(out_dir: str) -> List[str]:
    """After a failed write into ``out_dir``: remove the prediction files that are empty (0 bytes) and the newest
    one if it does not load (cut short); returns the removed paths."""
    from PIL import Image
    removed = []
    try:
        names = [n for n in os.listdir(out_dir) if n != MANIFEST]
    except OSError:
        return removed
    paths = [os.path.join(out_dir, n) for n in names]
    newest = max(paths, key=lambda p: os.lstat(p).st_mtime, default=None)
    for path in paths:
        try:
            bad = os.path.getsize(path) == 0
            if not bad and path == newest:
                try:
                    with Image.open(path) as img:
                        img.load()
                except Exception:  # noqa: BLE001 - any file that does not load is partial
                    bad = True
            if bad:
                os.remove(path)
                removed.append(path)
        except OSError:
            continue
    return removed
