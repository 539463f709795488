"""Run a suite of evaluations through tools/test.py and compare them with the published numbers, in one command.

A suite is a list of cells. A grid cell is (mode, dataset, protocol, PAMR on/off) over the training-free configs:

    unified protocol:  configs/training_free/{mode}_vit-b16_{dataset}.py
    authors' protocol: configs/training_free/authors/{mode}_vit-b16_{dataset}.py
    PAMR on / off:     --cfg-options model.pamr.enabled=True / False (always set, so the authors' NACLIP preset,
                       PAMR on by default, is also measured without it)

A suite file (--suite, .json or .py) lists explicit cells (config, checkpoint, cfg-options), so trained methods
(ReCLIP++, ReCLIP rectification / distillation, TagCLIP) are evaluated with their checkpoints too.

Each cell runs `tools/test.py CONFIG [CHECKPOINT] --work-dir OUT/cells/<cell>/ ...` as a subprocess (or through
torchrun with --launcher pytorch); the metrics JSON tools/test.py wrote (MMEngine's <work-dir>/<timestamp>/
<timestamp>.json) is copied with the cell's description (config, protocol, PAMR, checkpoint, command) to
OUT/cells/<cell>.json. A cell whose JSON exists is not run again (resume: run the same command after an
interruption; delete a cell's JSON to re-run it). A cell whose config does not exist (e.g. the authors' protocol of
maskclip), or with PAMR on in a protocol that has none (CLIPer's authors' protocol), is reported as skipped with the
reason; a failed cell is recorded with its error (OUT/cells/<cell>/
log.txt), the suite goes on, and the exit status is 1 at the end.

Outputs in OUT: results.md and results.csv (columns mode, dataset, protocol, pamr, mIoU, published, diff, then
status, cell, source), heatmap.png (modes x datasets: ours and published side by side, blank where there is no
number), summary.json (cells run, done before, skipped, failed, each cell's status). Published numbers:
reclip_mmseg/utils/published.py (docs/training_free.md §4 and the configs' README tables).
"""
import argparse
import csv
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_TOOL = os.path.join(ROOT, 'tools', 'test.py')
sys.path.insert(0, ROOT)  # runnable from a checkout

MODES = ('maskclip', 'vanilla', 'sclip', 'clearclip', 'naclip', 'sc-clip', 'sfp', 'resclip', 'cliper', 'gem')
DATASETS = ('voc20', 'voc21', 'context59', 'context60', 'ade20k', 'cityscapes', 'cocostuff27', 'cocostuff171',
            'cocoobject')
PROTOCOL_DIRS = {'unified': 'configs/training_free', 'authors': 'configs/training_free/authors'}
CSV_COLUMNS = ('mode', 'dataset', 'protocol', 'pamr', 'mIoU', 'published', 'diff', 'status', 'cell', 'source')

EXAMPLE = """\
examples:
  # the training-free table (unified protocol, no PAMR), then NACLIP with PAMR in both protocols
  python tools/eval_suite.py --modes maskclip sclip clearclip naclip sc-clip sfp resclip \\
      --datasets voc20 voc21 context59 context60 ade20k cityscapes cocostuff171 --out-dir work_dirs/suite
  python tools/eval_suite.py --modes naclip --datasets voc20 voc21 --protocols unified authors --pamr off on \\
      --out-dir work_dirs/suite
  # four GPUs per cell (torchrun), datasets elsewhere than data/
  python tools/eval_suite.py --modes sclip --datasets voc21 --launcher pytorch --gpus 4 \\
      --data-root voc21=/data/VOCdevkit/VOC2012 --out-dir work_dirs/suite
  # trained methods from a suite file: [{"name": "reclip-pp_voc20", "config":
  #   "configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py", "checkpoint": "work_dirs/x/iter_20000.pth"}, ...]
  python tools/eval_suite.py --suite my_suite.json --out-dir work_dirs/suite

Run the same command again to resume: cells with OUT/cells/<cell>.json are skipped. --dry-run lists the cells,
their commands and what would be skipped, and writes nothing.
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate a suite of (mode, dataset, protocol, PAMR) cells, or the cells of a suite file, '
                    'through tools/test.py; write results.md / results.csv (with the published mIoU and the '
                    'difference), heatmap.png and summary.json to --out-dir. Cells already done are skipped.',
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--modes', nargs='+', default=[], metavar='MODE',
                        help=f'training-free modes of the grid ({", ".join(MODES)}; sc_clip = sc-clip)')
    parser.add_argument('--datasets', nargs='+', default=[], metavar='DATASET',
                        help=f'datasets of the grid ({", ".join(DATASETS)})')
    parser.add_argument('--protocols', nargs='+', default=['unified'], choices=sorted(PROTOCOL_DIRS),
                        help="unified: configs/training_free; authors: configs/training_free/authors (the papers' "
                             'own protocols; SCLIP, ClearCLIP, NACLIP, SC-CLIP, SFP, ResCLIP, CLIPer). Default: unified')
    parser.add_argument('--pamr', nargs='+', default=['off'], choices=['off', 'on'],
                        help='PAMR post-processing off and/or on (model.pamr.enabled). Default: off')
    parser.add_argument('--suite', metavar='FILE',
                        help='a .json or .py file of explicit cells: a list (JSON, or CELLS = [...] in Python) of '
                             'dicts with config (required), name, checkpoint, cfg_options (list of key=value or a '
                             'dict), mode, dataset, protocol, pamr (true/false), published (a number to compare '
                             'with; default: looked up by mode, dataset and PAMR). Added to the grid cells')
    parser.add_argument('--out-dir', required=True, help='where the cells, tables, heat map and summary go')
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='none: one process per cell; pytorch: torchrun with --gpus processes per cell')
    parser.add_argument('--gpus', type=int, default=1, help='processes (GPUs) per cell with --launcher pytorch')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='overrides passed to every cell, after the cell\'s own (e.g. the CLIP weights)')
    parser.add_argument('--data-root', nargs='+', default=[], metavar='DATASET=PATH',
                        help='test_dataloader.dataset.data_root for the cells of a dataset, e.g. '
                             'voc20=/data/VOCdevkit/VOC2012')
    parser.add_argument('--dry-run', action='store_true', help='list the cells and their commands; run nothing')
    parser.add_argument('--in-process', action='store_true',
                        help="run tools/test.py's main in this process instead of a subprocess (--launcher none "
                             'only; saves the interpreter start per cell, for quick smoke suites)')
    args = parser.parse_args(argv)
    if not args.modes and not args.suite:
        parser.error('give --modes and --datasets (a grid), or --suite FILE, or both')
    if bool(args.modes) != bool(args.datasets):
        parser.error('--modes and --datasets go together')
    if args.in_process and args.launcher != 'none':
        parser.error('--in-process runs one process: it takes --launcher none')
    for item in args.data_root:
        if '=' not in item:
            parser.error(f'--data-root {item}: expected DATASET=PATH')
    return args


# ----------------------------------------------------------------------------------------------------- the cells
def _safe(name: str) -> str:
    return re.sub(r'[^A-Za-z0-9._-]+', '-', name).strip('-')


def _pamr_token(pamr) -> str:
    return '' if pamr is None else ('on' if pamr else 'off')


def grid_cells(args) -> list:
    cells = []
    for protocol in args.protocols:
        for mode in args.modes:
            mode = mode.replace('_', '-')
            for dataset in args.datasets:
                for pamr in args.pamr:
                    on = pamr == 'on'
                    cells.append(dict(
                        name=f'{mode}_{dataset}_{protocol}_pamr-{pamr}', mode=mode, dataset=dataset,
                        protocol=protocol, pamr=on, checkpoint=None,
                        config=f'{PROTOCOL_DIRS[protocol]}/{mode}_vit-b16_{dataset}.py',
                        cfg_options=[f'model.pamr.enabled={on}']))
    return cells


def _options_list(options) -> list:
    if options is None:
        return []
    if isinstance(options, dict):
        return [f'{k}={v}' for k, v in options.items()]
    if isinstance(options, str):
        return options.split()
    return [str(o) for o in options]


def load_suite(path: str) -> list:
    """The cells of a suite file, completed: mode and dataset from the config's name ({method}_..._{dataset}.py)
    unless given, protocol from its folder, PAMR from the cell's cfg_options."""
    if path.endswith('.py'):
        import runpy
        data = runpy.run_path(path)
        data = data.get('CELLS', data.get('cells'))
    else:
        with open(path) as f:
            data = json.load(f)
    if isinstance(data, dict):
        data = data.get('cells')
    if not isinstance(data, list):
        raise ValueError(f'--suite {path}: expected a list of cells (JSON list, {{"cells": [...]}}, or CELLS = [...] '
                         f'in a .py file)')
    cells = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict) or 'config' not in raw:
            raise ValueError(f'--suite {path}: cell {i} is not a dict with a config: {raw!r}')
        config = raw['config']
        stem = os.path.splitext(os.path.basename(config))[0].split('_')
        options = _options_list(raw.get('cfg_options'))
        pamr = raw.get('pamr')
        if pamr is None:
            for o in options:
                if o.replace(' ', '').startswith('model.pamr.enabled='):
                    pamr = o.split('=', 1)[1].strip().lower() == 'true'
        folder = os.path.dirname(os.path.normpath(config))
        protocol = raw.get('protocol') or ('authors' if os.path.basename(folder) == 'authors' else
                                           'unified' if os.path.basename(folder) == 'training_free' else
                                           os.path.basename(folder) or 'config')
        cell = dict(mode=raw.get('mode') or stem[0], dataset=raw.get('dataset') or stem[-1], protocol=protocol,
                    pamr=None if pamr is None else bool(pamr), config=config, checkpoint=raw.get('checkpoint'),
                    cfg_options=options)
        if 'published' in raw:
            cell['published'] = raw['published']
        cell['name'] = _safe(raw.get('name') or '_'.join(
            [os.path.splitext(os.path.basename(config))[0]] + ([f'pamr-{_pamr_token(pamr)}'] if pamr is not None
                                                                else [])))
        cells.append(cell)
    return cells


# (protocol, mode) cells whose protocol has no PAMR: their presets refuse model.pamr.enabled=True
NO_PAMR = {('authors', 'cliper'): "CLIPer's authors' protocol has no PAMR (its release has none; see "
                                  "docs/training_free.md §6.5)"}


def missing_reason(cell) -> str:
    """Why a cell cannot run ('' when it can): its config or checkpoint is not there, or it asks for PAMR where
    the protocol has none."""
    if cell.get('pamr') and (cell.get('protocol'), cell.get('mode')) in NO_PAMR:
        return NO_PAMR[(cell['protocol'], cell['mode'])]
    if not os.path.isfile(os.path.join(ROOT, cell['config'])) and not os.path.isfile(cell['config']):
        if cell['protocol'] == 'authors' and cell['config'].startswith(PROTOCOL_DIRS['authors']):
            return (f"no authors' protocol for {cell['mode']} on {cell['dataset']} ({cell['config']} does not "
                    f'exist; see docs/training_free.md §6)')
        return f"config {cell['config']} does not exist"
    if cell.get('checkpoint') and not os.path.isfile(cell['checkpoint']):
        return f"checkpoint {cell['checkpoint']} does not exist"
    return ''


def cell_command(cell, args, work_dir) -> list:
    """tools/test.py's command line for a cell (through torchrun with --launcher pytorch)."""
    config = cell['config'] if os.path.isfile(cell['config']) else os.path.join(ROOT, cell['config'])
    tool_args = [config] + ([cell['checkpoint']] if cell.get('checkpoint') else []) + ['--work-dir', work_dir]
    options = list(cell['cfg_options'])
    for item in args.data_root:
        dataset, path = item.split('=', 1)
        if dataset == cell['dataset']:
            options.append(f'test_dataloader.dataset.data_root={path}')
    options += args.cfg_options
    if options:
        tool_args += ['--cfg-options'] + options
    if args.launcher == 'pytorch':
        return [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={args.gpus}',
                f'--master_port={_free_port()}', TEST_TOOL] + tool_args + ['--launcher', 'pytorch']
    return [sys.executable, TEST_TOOL] + tool_args


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _written_metrics(work_dir: str) -> dict:
    """The metrics tools/test.py wrote: MMEngine's <work_dir>/<timestamp>/<timestamp>.json, the newest run."""
    found = sorted(glob.glob(os.path.join(work_dir, '2*', '2*.json')))
    if not found:
        raise RuntimeError(f'tools/test.py wrote no metrics JSON under {work_dir}')
    with open(found[-1]) as f:
        metrics = json.load(f)
    if 'mIoU' not in metrics:
        raise RuntimeError(f'{found[-1]} has no mIoU: {metrics}')
    return dict(metrics, metrics_file=found[-1])


class _CellLog:
    """A stream that writes to the cell's log file while the cell runs and to the real stdout after: loggers built
    during a cell keep their stream, and the next cell must not write to a closed file."""

    def __init__(self, path):
        self.file = open(path, 'w')

    def write(self, text):
        return (self.file or sys.__stdout__).write(text)

    def flush(self):
        (self.file or sys.__stdout__).flush()

    def isatty(self):
        return False

    def close(self):
        self.file.close()
        self.file = None


def _run_in_process(command, log_path) -> None:
    """tools/test.py's main with the cell's argument list, in this process, its output to log_path."""
    import contextlib
    import runpy
    import traceback
    saved = sys.argv
    sys.argv = command[1:]
    log = _CellLog(log_path)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            try:
                runpy.run_path(TEST_TOOL, run_name='__main__')
            except SystemExit as err:
                if err.code not in (None, 0):  # argparse's errors and the tools' refusals (a message)
                    print(err.code)
                    raise RuntimeError(f'tools/test.py exited with {err.code}' if isinstance(err.code, int)
                                       else f'tools/test.py stopped: {err.code}') from err
            except Exception:
                traceback.print_exc()
                raise
    finally:
        sys.argv = saved
        log.close()


def run_cell(cell, args, cells_dir) -> dict:
    """Run one cell; write cells/<cell>.json on success. Returns the status record."""
    work_dir = os.path.join(cells_dir, cell['name'])
    if os.path.isdir(work_dir):  # a failed or interrupted earlier try: start clean
        shutil.rmtree(work_dir)
    os.makedirs(work_dir)
    command = cell_command(cell, args, work_dir)
    log_path = os.path.join(work_dir, 'log.txt')
    start = time.time()
    try:
        if args.in_process:
            _run_in_process(command, log_path)
        else:
            with open(log_path, 'w') as log:
                proc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
            if proc.returncode != 0:
                raise RuntimeError(f'tools/test.py exited with {proc.returncode}')
        metrics = _written_metrics(work_dir)
    except Exception as err:  # recorded, the suite goes on
        tail = ''
        if os.path.isfile(log_path):
            with open(log_path, errors='replace') as f:
                tail = ''.join(f.readlines()[-5:]).strip()
        return dict(status='failed', reason=f'{type(err).__name__}: {err} (log: {log_path})' +
                    (f'\n{tail}' if tail else ''))
    record = dict(cell=dict(cell, command=command), metrics=metrics, seconds=round(time.time() - start, 1))
    from reclip_mmseg.utils import atomic_save  # here: --help and --dry-run need no torch
    # written whole or not at all: a cell whose JSON exists counts as done
    atomic_save(record, os.path.join(cells_dir, cell['name'] + '.json'),
                saver=lambda obj, path: _dump_json(obj, path))
    return dict(status='ran', reason='')


def _dump_json(obj, path):
    with open(path, 'w') as f:
        json.dump(obj, f, indent=1)


def load_done(cells_dir, cell):
    path = os.path.join(cells_dir, cell['name'] + '.json')
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
        return record if 'mIoU' in record.get('metrics', {}) else None
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------- the tables
def table_rows(cells, statuses, cells_dir) -> list:
    from reclip_mmseg.utils.published import published_miou
    rows = []
    for cell in cells:
        record = load_done(cells_dir, cell)
        miou = float(record['metrics']['mIoU']) if record else None
        if 'published' in cell:
            published = None if cell['published'] is None else float(cell['published'])
            source = 'suite file' if published is not None else ''
        else:
            found = published_miou(cell['mode'], cell['dataset'], bool(cell['pamr']))
            published, source = (found.miou, found.source) if found else (None, '')
        status = statuses[cell['name']]
        rows.append(dict(mode=cell['mode'], dataset=cell['dataset'], protocol=cell['protocol'],
                         pamr=_pamr_token(cell['pamr']), mIoU=miou, published=published,
                         diff=None if miou is None or published is None else miou - published,
                         status=status['status'] + (f": {status['reason'].splitlines()[0]}" if status['reason']
                                                    else ''),
                         cell=cell['name'], source=source))
    return rows


def write_csv(rows, path) -> None:
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: '' if row[k] is None else row[k] for k in CSV_COLUMNS})


def _fmt(value, digits, sign=False) -> str:
    if value is None:
        return '–'
    return f'{value:+.{digits}f}' if sign else f'{value:.{digits}f}'


def write_markdown(rows, path, summary) -> None:
    lines = ['# Evaluation suite', '',
             f"{summary['done']} of {summary['total']} cells with a result ({summary['ran']} run now, "
             f"{summary['done_before']} done before); {summary['skipped']} skipped, {summary['failed']} failed. "
             'mIoU in %; published: the paper\'s number (its own protocol, see the sources below); '
             'diff = mIoU − published.', '',
             '| mode | dataset | protocol | PAMR | mIoU | published | diff | status |',
             '|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['mode']} | {r['dataset']} | {r['protocol']} | {r['pamr'] or '–'} | {_fmt(r['mIoU'], 2)} | "
                     f"{_fmt(r['published'], 1)} | {_fmt(r['diff'], 2, sign=True)} | {r['status'].replace('|', '/')} |")
    sources = sorted({r['source'] for r in rows if r['source']})
    if sources:
        lines += ['', 'Published numbers (reclip_mmseg/utils/published.py):', ''] + [f'- {s}' for s in sources]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def write_heatmap(rows, path) -> None:
    """Modes x datasets, two panels (ours, published); blank where there is no number. A mode run under several
    protocols or PAMR settings gets one row per setting."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    several = len({(r['protocol'], r['pamr']) for r in rows}) > 1
    label = (lambda r: f"{r['mode']} ({r['protocol']}{', PAMR ' + r['pamr'] if r['pamr'] else ''})") if several \
        else (lambda r: r['mode'])
    ylabels = list(dict.fromkeys(label(r) for r in rows))
    xlabels = list(dict.fromkeys(r['dataset'] for r in rows))
    ours = np.full((len(ylabels), len(xlabels)), np.nan)
    paper = np.full_like(ours, np.nan)
    for r in rows:
        i, j = ylabels.index(label(r)), xlabels.index(r['dataset'])
        if r['mIoU'] is not None:
            ours[i, j] = r['mIoU']
        if r['published'] is not None:
            paper[i, j] = r['published']
    finite = np.concatenate([ours[np.isfinite(ours)], paper[np.isfinite(paper)]])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 100.0)
    if vmax <= vmin:
        vmax = vmin + 1.0
    fig, axes = plt.subplots(1, 2, figsize=(3.5 + 1.6 * len(xlabels), 2.0 + 0.45 * len(ylabels)), squeeze=False,
                             constrained_layout=True)
    cmap = plt.get_cmap('viridis').with_extremes(bad='white')
    for ax, data, title in zip(axes[0], (ours, paper), ('this run: mIoU %', 'published: mIoU %')):
        image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=vmin, vmax=vmax, aspect='auto')
        ax.set_xticks(range(len(xlabels)), xlabels, rotation=45, ha='right')
        ax.set_yticks(range(len(ylabels)), ylabels)
        ax.set_title(title)
        for (i, j), v in np.ndenumerate(data):
            if np.isfinite(v):
                ax.text(j, i, f'{v:.1f}', ha='center', va='center', fontsize=8,
                        color='white' if v < (vmin + vmax) / 2 else 'black')
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------------------------------- the run
def main(argv=None) -> int:
    args = parse_args(argv)
    cells = grid_cells(args) + (load_suite(args.suite) if args.suite else [])
    names = [c['name'] for c in cells]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SystemExit(f'cell names must be unique; repeated: {", ".join(repeated)}')
    cells_dir = os.path.join(args.out_dir, 'cells')
    statuses = {}
    for cell in cells:
        reason = missing_reason(cell)
        if reason:
            statuses[cell['name']] = dict(status='skipped', reason=reason)
        elif load_done(cells_dir, cell) is not None:
            statuses[cell['name']] = dict(status='done before', reason='')
    if args.dry_run:
        for cell in cells:
            st = statuses.get(cell['name'], dict(status='to run', reason=''))
            print(f"{cell['name']}: {st['status']}{' (' + st['reason'] + ')' if st['reason'] else ''}")
            if cell['name'] not in statuses:
                print('    ' + ' '.join(cell_command(cell, args, os.path.join(cells_dir, cell['name']))))
        return 0
    os.makedirs(cells_dir, exist_ok=True)
    todo = [c for c in cells if c['name'] not in statuses]
    for k, cell in enumerate(todo, 1):
        print(f"[{k}/{len(todo)}] {cell['name']}: {cell['config']}", flush=True)
        statuses[cell['name']] = run_cell(cell, args, cells_dir)
        if statuses[cell['name']]['status'] == 'failed':
            print(f"    failed: {statuses[cell['name']]['reason']}", flush=True)
    counts = {s: sum(v['status'] == s for v in statuses.values()) for s in ('ran', 'done before', 'skipped', 'failed')}
    summary = dict(total=len(cells), ran=counts['ran'], done_before=counts['done before'], skipped=counts['skipped'],
                   failed=counts['failed'], done=counts['ran'] + counts['done before'],
                   cells=[dict(name=c['name'], config=c['config'], **statuses[c['name']]) for c in cells])
    rows = table_rows(cells, statuses, cells_dir)
    write_csv(rows, os.path.join(args.out_dir, 'results.csv'))
    write_markdown(rows, os.path.join(args.out_dir, 'results.md'), summary)
    write_heatmap(rows, os.path.join(args.out_dir, 'heatmap.png'))
    with open(os.path.join(args.out_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(f"{summary['total']} cells: {summary['ran']} run, {summary['done_before']} done before, "
          f"{summary['skipped']} skipped, {summary['failed']} failed; {os.path.join(args.out_dir, 'results.md')}")
    for c in summary['cells']:
        if c['status'] in ('skipped', 'failed'):
            print(f"  {c['name']}: {c['status']}: {c['reason'].splitlines()[0]}")
    return 1 if summary['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
