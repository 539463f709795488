"""tools/eval_suite.py: a 2 x 2 suite (maskclip, sclip x voc20, context59; unified protocol) end to end on tiny
synthetic trees with the tiny CLIP, its tables against the metrics tools/test.py wrote, resume, skipped and failed
cells, the suite file; and the published numbers (reclip_mmseg/utils/published.py) against the doc tables."""
import csv
import importlib.util
import json
import math
import os
import re

import pytest

from conftest import ROOT, run_tool, test_metrics
from synthetic import make_context_tree, make_voc_tree

from reclip_mmseg.utils.published import PUBLISHED, published_miou

TOOL = os.path.join(ROOT, 'tools', 'eval_suite.py')
# the tiny CLIP, one prompt template, whole-image inference: the suite's machinery, not the protocol, is tested here
TINY = [f'{w}.{k}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
        for k in ('model_name=reclip-tiny', 'pretrained=None')] + [
    'model.decode_head.text_encoder.templates=single', 'model.test_cfg.mode=whole',
    'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def load_tool():
    spec = importlib.util.spec_from_file_location('eval_suite', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp('suite_data')
    return dict(voc20=make_voc_tree(str(base / 'voc'), n_train=1, n_val=1),
                context59=make_context_tree(str(base / 'ctx'), n=(1, 1)))


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_help_documents_the_suite():
    out = run_tool(TOOL, '--help').stdout
    for option in ('--modes', '--datasets', '--protocols', '--pamr', '--suite', '--out-dir', '--launcher', '--gpus',
                   '--cfg-options', '--data-root', '--dry-run', '--in-process', 'results.csv', 'heatmap.png',
                   'resume', 'examples:'):
        assert option in out, option


def test_a_2x2_suite_end_to_end_then_resumed(roots, tmp_path, monkeypatch):
    tool = load_tool()
    out = tmp_path / 'suite'
    argv = ['--modes', 'maskclip', 'sclip', '--datasets', 'voc20', 'context59', '--out-dir', str(out),
            '--in-process', '--data-root', *(f'{d}={r}' for d, r in roots.items()), '--cfg-options', *TINY]
    assert tool.main(argv) == 0
    rows = read_csv(out / 'results.csv')
    assert list(rows[0])[:7] == ['mode', 'dataset', 'protocol', 'pamr', 'mIoU', 'published', 'diff']
    assert [(r['mode'], r['dataset']) for r in rows] == [('maskclip', 'voc20'), ('maskclip', 'context59'),
                                                         ('sclip', 'voc20'), ('sclip', 'context59')]
    table = (out / 'results.md').read_text()
    for r in rows:
        cell = f"{r['mode']}_{r['dataset']}_unified_pamr-off"
        assert r['cell'] == cell and r['protocol'] == 'unified' and r['pamr'] == 'off' and r['status'] == 'ran'
        written = test_metrics(out / 'cells' / cell)  # what tools/test.py wrote in the cell's work dir
        assert float(r['mIoU']) == written['mIoU']
        published = published_miou(r['mode'], r['dataset'])
        assert float(r['published']) == published.miou and r['source'] == published.source
        assert math.isclose(float(r['diff']), written['mIoU'] - published.miou, abs_tol=1e-9)
        assert (f"| {r['mode']} | {r['dataset']} | unified | off | {written['mIoU']:.2f} | {published.miou:.1f} | "
                f"{written['mIoU'] - published.miou:+.2f} | ran |") in table
        record = json.loads((out / 'cells' / f'{cell}.json').read_text())
        assert record['metrics']['mIoU'] == written['mIoU']
        assert record['cell']['config'] == f"configs/training_free/{r['mode']}_vit-b16_{r['dataset']}.py"
        assert record['cell']['pamr'] is False and record['cell']['protocol'] == 'unified'
        assert record['cell']['command'][1].endswith(os.path.join('tools', 'test.py'))
    assert (out / 'heatmap.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert json.loads((out / 'summary.json').read_text())['ran'] == 4

    # again: every cell is done, nothing runs, the tables are the same
    def must_not_run(*args, **kwargs):
        raise AssertionError('a done cell ran again')
    monkeypatch.setattr(tool, 'run_cell', must_not_run)
    assert tool.main(argv) == 0
    summary = json.loads((out / 'summary.json').read_text())
    assert (summary['ran'], summary['done_before'], summary['failed'], summary['skipped']) == (0, 4, 0, 0)
    assert [r['mIoU'] for r in read_csv(out / 'results.csv')] == [r['mIoU'] for r in rows]


def test_dry_run_lists_commands_and_skips_cells_without_a_config(tmp_path, capsys):
    tool = load_tool()
    out = tmp_path / 'dry'
    assert tool.main(['--modes', 'maskclip', 'naclip', 'cliper', '--datasets', 'voc21', '--protocols', 'unified',
                      'authors', '--pamr', 'off', 'on', '--out-dir', str(out), '--dry-run']) == 0
    text = capsys.readouterr().out
    assert not out.exists()  # a dry run writes nothing
    assert re.search(r"maskclip_voc21_authors_pamr-off: skipped \(no authors' protocol for maskclip", text)
    naclip_off = text.split('naclip_voc21_authors_pamr-off: to run\n')[1].splitlines()[0]
    # the authors' NACLIP preset has PAMR on: the off cell switches it off
    assert 'configs/training_free/authors/naclip_vit-b16_voc21.py' in naclip_off
    assert naclip_off.endswith('--cfg-options model.pamr.enabled=False')
    # CLIPer's authors' protocol: its preset, and no PAMR (its release has none)
    cliper_off = text.split('cliper_voc21_authors_pamr-off: to run\n')[1].splitlines()[0]
    assert 'configs/training_free/authors/cliper_vit-b16_voc21.py' in cliper_off
    assert re.search(r"cliper_voc21_authors_pamr-on: skipped \(CLIPer's authors' protocol has no PAMR", text)
    assert 'cliper_voc21_unified_pamr-on: to run' in text
    assert published_miou('naclip', 'voc21', pamr=True).miou == 64.1
    assert published_miou('naclip', 'voc21').miou == 58.9 and published_miou('maskclip', 'voc21', True) is None


def test_suite_file_cells_a_missing_checkpoint_is_skipped_a_failing_cell_is_recorded(roots, tmp_path):
    tool = load_tool()
    not_a_checkpoint = tmp_path / 'x.pth'
    not_a_checkpoint.write_bytes(b'')
    suite = tmp_path / 'suite.json'
    suite.write_text(json.dumps([
        dict(name='reclip-pp_voc20', config='configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py',
             checkpoint=str(tmp_path / 'missing.pth')),
        # a training-free config given a checkpoint: tools/test.py refuses it, the suite records the failure
        dict(config='configs/training_free/maskclip_vit-b16_voc20.py', checkpoint=str(not_a_checkpoint),
             cfg_options=['model.pamr.enabled=True'], published=50.0)]))
    cells = tool.load_suite(str(suite))
    assert (cells[0]['mode'], cells[0]['dataset'], cells[0]['protocol']) == ('reclip-pp', 'voc20', 'reclip_pp')
    assert cells[1]['name'] == 'maskclip_vit-b16_voc20_pamr-on' and cells[1]['pamr'] is True
    out = tmp_path / 'out'
    assert tool.main(['--suite', str(suite), '--out-dir', str(out), '--in-process', '--cfg-options', *TINY]) == 1
    summary = {c['name']: c for c in json.loads((out / 'summary.json').read_text())['cells']}
    assert summary['reclip-pp_voc20']['status'] == 'skipped' and 'missing.pth does not exist' in \
        summary['reclip-pp_voc20']['reason']
    assert summary['maskclip_vit-b16_voc20_pamr-on']['status'] == 'failed'
    assert 'checkpoint' in (out / 'cells' / 'maskclip_vit-b16_voc20_pamr-on' / 'log.txt').read_text()
    assert not (out / 'cells' / 'maskclip_vit-b16_voc20_pamr-on.json').exists()
    rows = {r['cell']: r for r in read_csv(out / 'results.csv')}
    assert rows['reclip-pp_voc20']['published'] == '73.5' and rows['reclip-pp_voc20']['mIoU'] == ''
    assert rows['maskclip_vit-b16_voc20_pamr-on']['published'] == '50.0'
    assert rows['maskclip_vit-b16_voc20_pamr-on']['status'].startswith('failed: ')
    assert (out / 'heatmap.png').is_file()


def _markdown_rows(path, header_start):
    """The rows of the first Markdown table whose header starts with ``header_start``."""
    lines = open(os.path.join(ROOT, path)).read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        rows.append([c.strip() for c in line.strip('|').split('|')])
    return rows


DOC_MODES = {'MaskCLIP': 'maskclip', 'SCLIP': 'sclip', 'ClearCLIP': 'clearclip', 'NACLIP': 'naclip',
             'SC-CLIP': 'sc-clip', 'SFP': 'sfp', 'ResCLIP': 'resclip'}
DOC_DATASETS = ('voc20', 'context59', 'ade20k', 'cityscapes', 'cocostuff171', 'voc21', 'context60')


def test_published_numbers_match_the_doc_tables():
    checked = 0
    for row in _markdown_rows('docs/training_free.md', '| mode | VOC20 | PC59 |'):
        mode = DOC_MODES.get(row[0].split()[0])
        if mode is None:  # the ReCLIP++ row of the authors' release: not a paper number
            continue
        for dataset, cell in zip(DOC_DATASETS, row[1:]):
            for pamr, value in zip((False, True), cell.split(' / ')):
                assert published_miou(mode, dataset, pamr).miou == float(value), (mode, dataset, pamr)
                checked += 1
    assert checked == 7 * 8
    for row in _markdown_rows('configs/training_free/README.md', '| mode | last block |'):
        mode = row[0].strip('`').replace('_', '-')
        numbers = re.findall(r'\d+\.\d', row[2])
        for i, value in enumerate(numbers):
            assert published_miou(mode, DOC_DATASETS[i % 7], pamr=i >= 7).miou == float(value), (mode, i)
    for family, token in (('reclip_pp', 'reclip-pp'), ('reclip', 'reclip')):
        for row in _markdown_rows(f'configs/{family}/README.md', '| method |'):
            config = re.search(r'\(([\w.-]+\.py)\)', row[-1])
            if config and row[-2] not in ('–', ''):
                stem = config.group(1)[:-3].split('_')
                assert published_miou(stem[0], stem[-1]).miou == float(row[-2]), (family, config.group(1))
    assert all(p.source for p in PUBLISHED.values())


@pytest.mark.slow  # two tools/test.py subprocesses, one of them under torchrun (2 gloo processes): ~30 s on 2 cores
def test_subprocess_and_torchrun_cells(roots, tmp_path):
    out = tmp_path / 'suite'
    common = ['--datasets', 'voc20', '--out-dir', str(out), '--data-root', f"voc20={roots['voc20']}",
              '--cfg-options', *TINY]
    for mode, launcher in (('maskclip', []), ('sclip', ['--launcher', 'pytorch', '--gpus', '2'])):
        run_tool(TOOL, '--modes', mode, *launcher, *common)  # the default: tools/test.py as a subprocess
        written = test_metrics(out / 'cells' / f'{mode}_voc20_unified_pamr-off')
        assert float(read_csv(out / 'results.csv')[0]['mIoU']) == written['mIoU']
    assert 'torch.distributed.run' in json.loads(
        (out / 'cells' / 'sclip_voc20_unified_pamr-off.json').read_text())['cell']['command']
