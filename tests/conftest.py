"""Shared fixtures: the tiny untrained CLIP, synthetic datasets in official layouts, CLI helpers. Offline."""
import json
import os
import subprocess
import sys
import tempfile

import pytest

# Under pytest-xdist (-n N) the cores are shared out: each worker, and the tools it starts, gets cpu_count // N
# threads (on the 2-core CI machine with -n 2, one). torch's default of one thread per core in every worker puts
# twice as many busy threads as cores, and each op then waits for its second thread: the suite took 14 min 55 s
# that way, 10 min 40 s with one thread per worker (2-core machine, -n 2, same tree).
# A thread count the user set (OMP_NUM_THREADS) is kept. Set before anything imports torch.
if os.environ.get('PYTEST_XDIST_WORKER_COUNT') and 'OMP_NUM_THREADS' not in os.environ:
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ['PYTEST_XDIST_WORKER_COUNT'])))
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = _threads

# Caches of this test session go to a throwaway folder, never to the user's ~/.cache.
os.environ.setdefault('RECLIP_CACHE_DIR', tempfile.mkdtemp(prefix='reclip_test_cache_'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from synthetic import make_voc_tree  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CLIP = dict(model_name='reclip-tiny', pretrained=None)

# The device of the module-level tests that take the `device` fixture: RECLIP_TEST_DEVICE=cuda on a GPU machine
# (tools/device/run_on_gpu.sh). Tests that run the tools get the GPU anyway (MMEngine's runner takes it when one
# is there); tests of CPU-only behaviour are marked `cpu_only` and skip, with the reason, on another device.
TEST_DEVICE = os.environ.get('RECLIP_TEST_DEVICE', 'cpu')
cpu_only = pytest.mark.skipif(TEST_DEVICE != 'cpu', reason=f'CPU-specific behaviour; RECLIP_TEST_DEVICE={TEST_DEVICE}')


@pytest.fixture(scope='session')
def device():
    import torch
    dev = torch.device(TEST_DEVICE)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        pytest.exit(f'RECLIP_TEST_DEVICE={TEST_DEVICE} but torch sees no CUDA device', returncode=2)
    return dev


@pytest.fixture(scope='session', autouse=True)
def mmseg_scope():
    from mmengine.registry import init_default_scope
    import reclip_mmseg  # noqa: F401
    init_default_scope('mmseg')


@pytest.fixture(scope='module')
def one_thread():
    """torch on one thread for a module of tiny-tensor tests: a second thread buys nothing there, and on a loaded
    2-core machine each op then waits for it. Use with ``pytestmark = pytest.mark.usefixtures('one_thread')``."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def voc_root(tmp_path_factory):
    return make_voc_tree(str(tmp_path_factory.mktemp('voc')), n_train=4, n_val=3)


def write_hypotheses(path, names, labels, classes):
    with open(path, 'w') as f:
        json.dump(dict(version=1, classes=list(classes), model='test', window_size=56, window_stride=28,
                       min_vote_share=0.0, complete=True, labels=dict(zip(names, labels))), f)
    return path


@pytest.fixture(scope='session')
def voc_hypotheses(voc_root, tmp_path_factory):
    from reclip_mmseg.clip import VOCABULARIES
    with open(os.path.join(voc_root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        names = [n.strip() + '.jpg' for n in f if n.strip()]
    labels = [[i % 20, (i + 7) % 20] for i in range(len(names))]
    return write_hypotheses(str(tmp_path_factory.mktemp('hyp') / 'voc20_train.json'), names, labels,
                            VOCABULARIES['voc20'])


def tiny_options(voc_root=None, hypothesis_file=None, iters=4, interval=2):
    """--cfg-options turning configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py into a CPU smoke run (documented in README)."""
    opts = []
    for where in ('model.backbone.clip', 'model.decode_head.text_encoder.clip'):
        opts += [f'{where}.model_name=reclip-tiny', f'{where}.pretrained=None']
    if voc_root:
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            opts += [f'{loader}.dataset.data_root={voc_root}', f'{loader}.num_workers=0',
                     f'{loader}.persistent_workers=False']
    if hypothesis_file:
        opts.append(f'train_dataloader.dataset.pipeline.1.hypothesis_file={hypothesis_file}')
    opts += [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={interval}', f'param_scheduler.0.end={iters}',
             f'default_hooks.checkpoint.interval={interval}', 'default_hooks.logger.interval=1',
             'randomness.seed=0']
    return opts


def trained_rect_checkpoint(config, path, batch, steps=2, lr=0.05):
    """Save a rectification checkpoint of ``config`` (a path under the project root) on the tiny CLIP after
    ``steps`` SGD steps on ``batch()`` (inputs, data samples), so nothing is at its init and the BatchNorms' stored
    statistics are not the batch statistics; returns ``path``."""
    import torch
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmseg.registry import MODELS
    cfg = Config.fromfile(os.path.join(ROOT, config))
    for where in ('backbone', 'decode_head.text_encoder'):
        cfg.merge_from_dict({f'model.{where}.clip': dict(TINY_CLIP)})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr))
    for _ in range(steps):
        optim.update_params(sum(model.loss(*batch()).values()))
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def options_dict(options):
    """The same overrides as a dict for Config.merge_from_dict, parsed as MMEngine's DictAction parses them."""
    from mmengine.config import DictAction
    return {k: DictAction._parse_iterable(v) for k, v in (o.split('=', 1) for o in options)}


# Bit-for-bit comparisons between processes need a fixed summation order: math libraries may pick their thread
# count by the machine's load (MKL_DYNAMIC), which changes float rounding between two otherwise equal runs.
DETERMINISTIC_ENV = dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', MKL_DYNAMIC='FALSE')


def run_tool(*args, timeout=600, check=True, env=None):
    """Run a script of tools/ with this interpreter; on failure show its output. The timeout is for hangs only:
    a busy machine may take minutes."""
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else dict(os.environ, **env))
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n'
                             f'{proc.stderr[-6000:]}')
    return proc


def run_tool_in_process(tool, *args):
    """Run ``tools/<tool>``'s main in this process with ``args`` as its command line (the interpreter start is
    most of a subprocess's time); a non-zero exit fails. MMEngine's current logger is set back to INFO afterwards
    (a config's log_level would otherwise stay for the tests that follow)."""
    import logging
    import runpy
    from mmengine.logging import MMLogger
    path = os.path.join(ROOT, 'tools', tool)
    saved = sys.argv
    sys.argv = [path, *map(str, args)]
    try:
        runpy.run_path(path, run_name='__main__')
    except SystemExit as err:
        assert err.code in (None, 0), err.code
    finally:
        sys.argv = saved
        MMLogger.get_current_instance().setLevel(logging.INFO)


def pytest_addoption(parser):
    parser.addoption('--run-slow', action='store_true', default=False,
                     help='also run the tests marked slow (minutes each; CI skips them, see docs/development.md, "Slow tests")')


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: thorough checks that take minutes; run with --run-slow')


def pytest_collection_modifyitems(config, items):
    if config.getoption('--run-slow'):
        return
    skip = pytest.mark.skip(reason='slow: run with --run-slow (docs/development.md, "Slow tests")')
    for item in items:
        if 'slow' in item.keywords:
            item.add_marker(skip)


# One config naming scheme (configs/README.md): {method}[-{variant}]_{backbone}[_{schedule}]_{dataset}.py
RECLIP_DATASETS = ('voc20', 'context59', 'ade20k', 'cityscapes', 'cocostuff27')  # ReCLIP++'s and ReCLIP's five
SCHEDULE = dict(voc20='20k', context59='40k', ade20k='80k', cityscapes='8k', cocostuff27='80k')


def reclip_config(method: str, dataset: str, stage: str = 'rectify', variant: str = '') -> str:
    """The shipped config of ReCLIP++ (method 'reclip_pp') or ReCLIP ('reclip') on a dataset, as a repo path."""
    token = {'reclip_pp': 'reclip-pp', 'reclip': 'reclip'}[method]
    if stage == 'distill':
        student = 'r101' if method == 'reclip_pp' else 'r50'
        return f'configs/{method}/{token}-distill_{student}_{SCHEDULE[dataset]}_{dataset}.py'
    return f'configs/{method}/{token}{"-" + variant if variant else ""}_vit-b16_{SCHEDULE[dataset]}_{dataset}.py'


def test_metrics(work_dir) -> dict:
    """The metrics tools/test.py wrote: MMEngine's ``work_dir/<timestamp>/<timestamp>.json`` (the newest run). Fails,
    naming the folder, when none was written; checks mIoU is a number in [0, 100] (never a string in the log: MMEngine
    logs the whole config, which names 'mIoU', at start)."""
    import glob
    import json
    found = sorted(glob.glob(os.path.join(str(work_dir), '2*', '2*.json')))
    assert found, f'no metrics JSON under {work_dir}'
    with open(found[-1]) as f:
        metrics = json.load(f)
    assert 0.0 <= float(metrics['mIoU']) <= 100.0, metrics
    return metrics


test_metrics.__test__ = False  # a helper, not a test


def train_scalars(work_dir) -> list:
    """The training scalars MMEngine's LocalVisBackend wrote (``work_dir/<timestamp>/vis_data/scalars.json``, one
    JSON record a line, newest run)."""
    import glob
    import json
    found = sorted(glob.glob(os.path.join(str(work_dir), '2*', 'vis_data', 'scalars.json')))
    assert found, f'no training scalars under {work_dir}'
    with open(found[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def tiny_tagclip_options(voc_root, iters=2, interval=None):
    """--cfg-options turning a configs/tagclip VOC config into a CPU smoke run (the 12-block tiny CLIP)."""
    interval = interval or iters
    opts = []
    for where in ('model.backbone.clip', 'model.decode_head.text_encoder.clip'):
        opts += [f'{where}.model_name=reclip-tiny-deep', f'{where}.pretrained=None']
    for i in (0, 1):
        opts.append(f'train_dataloader.dataset.datasets.{i}.data_root={voc_root}')
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    opts += [f'val_dataloader.dataset.data_root={voc_root}', f'test_dataloader.dataset.data_root={voc_root}',
             f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={interval}',
             f'default_hooks.checkpoint.interval={interval}',
             'param_scheduler.0.warmup_iters=1', f'param_scheduler.0.end={iters}',
             'default_hooks.logger.interval=1', 'randomness.seed=0']
    return opts
