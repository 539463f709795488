"""Reliability: distributed training, NaN stop, bad input, wrong checkpoints, caches (issue 9)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import (DETERMINISTIC_ENV, ROOT, TINY_CLIP, cpu_only, run_tool, test_metrics, tiny_options, write_hypotheses)
from reclip_mmseg.clip import VOCABULARIES
from reclip_mmseg.datasets import LoadImageLevelLabels, generate_hypotheses
from reclip_mmseg.datasets.hypotheses import load_image_rgb, resolve_window
from synthetic import make_voc_tree

RECTIFY = 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'


@cpu_only  # two gloo ranks on CPU; on one GPU two NCCL ranks would share the device
def test_two_process_ddp_on_cpu_writes_the_query_cache_once(voc_root, voc_hypotheses, tmp_path):
    cache = tmp_path / 'cache'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29633', RECLIP_CACHE_DIR=str(cache))
    proc = subprocess.run(['bash', 'tools/dist_train.sh', RECTIFY, '2', '--work-dir', str(tmp_path / 'wd'),
                           '--cfg-options', *tiny_options(voc_root, voc_hypotheses, iters=4, interval=2)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert 'Distributed training: True' in out and 'Iter(train) [4/4]' in out
    state = torch.load(tmp_path / 'wd' / 'iter_4.pth', map_location='cpu', weights_only=True)['state_dict']
    assert state['decode_head.mask_decoder.norm.num_batches_tracked'] == 4
    files = os.listdir(cache / 'text_embeds')
    assert len(files) == 1 and files[0].endswith('.pth')  # written once, no temporary leftovers
    # run from another working directory: distributed evaluation must leave nothing there ('.dist_test/')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    proc = subprocess.run(['bash', os.path.join(ROOT, 'tools/dist_test.sh'), os.path.join(ROOT, RECTIFY),
                           str(tmp_path / 'wd' / 'iter_4.pth'), '2',
                           '--work-dir', str(tmp_path / 'test'), '--cfg-options', *tiny_options(voc_root)],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    test_metrics(tmp_path / 'test')
    assert os.listdir(elsewhere) == []


def test_nan_loss_stops_naming_iteration_and_last_good_checkpoint(voc_root, voc_hypotheses, tmp_path):
    wd = str(tmp_path / 'wd')
    run_tool('tools/train.py', RECTIFY, '--work-dir', wd, '--cfg-options',
             *tiny_options(voc_root, voc_hypotheses, iters=4, interval=2), 'train_cfg.max_iters=2')
    proc = run_tool('tools/train.py', RECTIFY, '--work-dir', wd, '--resume', '--cfg-options',
                    *tiny_options(voc_root, voc_hypotheses, iters=4, interval=2),
                    'model.decode_head.loss_decode.loss_weight=nan', check=False)
    assert proc.returncode != 0
    assert 'non-finite loss at iteration 3' in proc.stderr and 'iter_2.pth' in proc.stderr
    assert not os.path.exists(os.path.join(wd, 'iter_4.pth'))


def test_a_checkpoint_with_blown_up_parameters_is_not_named_last_good(voc_root, voc_hypotheses, tmp_path):
    """lr 1e30: iteration 1's loss is finite, its update is not; iter_1.pth holds the blown-up parameters."""
    wd = tmp_path / 'wd'
    proc = run_tool('tools/train.py', RECTIFY, '--work-dir', str(wd), '--cfg-options',
                    *tiny_options(voc_root, voc_hypotheses, iters=4, interval=1), 'optim_wrapper.optimizer.lr=1e30',
                    check=False)
    assert proc.returncode != 0 and (wd / 'iter_1.pth').exists()
    assert 'loss at iteration 2' in proc.stderr and 'no good checkpoint was saved before it' in proc.stderr


def test_odd_images_train_grayscale_rgba_16bit_and_smaller_than_the_crop(tmp_path):
    voc = make_voc_tree(str(tmp_path), n_train=4, n_val=1, size=(40, 52))  # smaller than the 336 crop
    names = [n.strip() for n in open(f'{voc}/ImageSets/Segmentation/train.txt')]
    rgb = np.array(Image.open(f'{voc}/JPEGImages/{names[0]}.jpg'))
    Image.fromarray(rgb[..., 0]).save(f'{voc}/JPEGImages/{names[0]}.jpg')  # grayscale
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])).save(  # RGBA (as PNG)
        f'{voc}/JPEGImages/{names[1]}.png')
    os.remove(f'{voc}/JPEGImages/{names[1]}.jpg')
    os.rename(f'{voc}/JPEGImages/{names[1]}.png', f'{voc}/JPEGImages/{names[1]}.jpg')
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(f'{voc}/JPEGImages/{names[2]}.jpg.png')
    os.replace(f'{voc}/JPEGImages/{names[2]}.jpg.png', f'{voc}/JPEGImages/{names[2]}.jpg')  # 16-bit
    for n in names[:3]:
        img = load_image_rgb(f'{voc}/JPEGImages/{n}.jpg')
        assert img.shape == (3, 40, 52) and 0 <= float(img.min()) and float(img.max()) <= 1
    hyp = write_hypotheses(str(tmp_path / 'h.json'), [n + '.jpg' for n in names], [[0]] * 4, VOCABULARIES['voc20'])
    run_tool('tools/train.py', RECTIFY, '--work-dir', str(tmp_path / 'wd'), '--cfg-options',
             *tiny_options(voc, hyp, iters=4, interval=4), 'train_dataloader.batch_size=2')
    assert os.path.isfile(tmp_path / 'wd' / 'iter_4.pth')


def test_missing_or_corrupt_image_is_named(voc_root, voc_hypotheses, tmp_path):
    voc = make_voc_tree(str(tmp_path), n_train=2, n_val=1)
    names = [n.strip() for n in open(f'{voc}/ImageSets/Segmentation/train.txt')]
    open(f'{voc}/JPEGImages/{names[0]}.jpg', 'wb').write(b'not an image')
    with pytest.raises(OSError, match=names[0]):
        load_image_rgb(f'{voc}/JPEGImages/{names[0]}.jpg')
    os.remove(f'{voc}/JPEGImages/{names[1]}.jpg')
    proc = run_tool('tools/gen_hypotheses.py', RECTIFY, '--out', str(tmp_path / 'h.json'), '--cfg-options',
                    *tiny_options(voc), check=False)
    assert proc.returncode != 0 and names[0] in proc.stderr


def test_image_smaller_than_the_window_is_a_clear_error():
    with pytest.raises(ValueError, match=r'img\.jpg \(40x30\) is smaller than the hypothesis window \(56 px\)'):
        resolve_window(30, 40, 56, 28, 'img.jpg')
    assert resolve_window(30, 40, 0.5, 0.5) == (15, 8)  # fractions of the short side / of the window


def test_hypothesis_file_missing_stale_or_lacking_an_image(tmp_path):
    results = dict(img_path='/data/JPEGImages/a.jpg')
    with pytest.raises(FileNotFoundError, match='gen_hypotheses.py'):
        LoadImageLevelLabels(str(tmp_path / 'none.json'))(dict(results))
    stale = write_hypotheses(str(tmp_path / 'stale.json'), ['a.jpg'], [[1]], VOCABULARIES['context59'])
    with pytest.raises(ValueError, match='stale'):
        LoadImageLevelLabels(stale, class_names='voc20')(dict(results))
    other = write_hypotheses(str(tmp_path / 'other.json'), ['b.jpg'], [[1]], VOCABULARIES['voc20'])
    with pytest.raises(KeyError, match='a.jpg.*no entry'):
        LoadImageLevelLabels(other, class_names='voc20')(dict(results))
    good = write_hypotheses(str(tmp_path / 'good.json'), ['a.jpg'], [[1, 4]], VOCABULARIES['voc20'])
    assert LoadImageLevelLabels(good, 'voc20')(dict(results))['image_level_labels'].tolist() == [1, 4]
    open(tmp_path / 'corrupt.json', 'w').write('{"version": 1, "lab')
    with pytest.raises(ValueError, match='corrupt'):
        LoadImageLevelLabels(str(tmp_path / 'corrupt.json'))(dict(results))


class _FlakyClassifier:
    """Votes like a real classifier (one forward per image: the 48 windows of a 64x80 image, side 16, stride 8)
    but dies after ``fail_after`` forwards (an interrupted run)."""
    batch_size, input_size, precision = 48, 8, 'fp32'

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = 0, fail_after

    def top1(self, crops):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        return torch.full((len(crops),), int(crops.mean() * 1000) % 3)


def test_interrupted_hypothesis_generation_resumes_and_corrupt_partial_file_is_rebuilt(tmp_path):
    voc = make_voc_tree(str(tmp_path), n_train=6, n_val=1)
    paths = sorted(f'{voc}/JPEGImages/{n}' for n in os.listdir(f'{voc}/JPEGImages') if 'train' in n)
    out = str(tmp_path / 'h.json')
    with pytest.raises(KeyboardInterrupt):
        generate_hypotheses(paths, _FlakyClassifier(fail_after=4), ['a', 'b', 'c'], out, progress=False,
                            window_size=16)
    with open(os.path.join(out + '.parts', 'rank0.jsonl')) as f:
        assert len(f.read().splitlines()) == 1 + 4 and not os.path.exists(out)  # header + 4 images, flushed
    again = _FlakyClassifier()
    labels = generate_hypotheses(paths, again, ['a', 'b', 'c'], out, progress=False, window_size=16)
    assert again.calls == 2 and len(labels) == 6 and json.load(open(out))['complete']
    open(out, 'w').write('{"trunc')  # a corrupt file is not trusted: everything is made again
    fresh = _FlakyClassifier()
    assert generate_hypotheses(paths, fresh, ['a', 'b', 'c'], out, progress=False, window_size=16) == labels
    assert fresh.calls == 6


def test_checkpoint_of_wrong_stage_or_class_count_is_refused_by_tools_test(voc_root, tmp_path):
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = Config.fromfile(f'{ROOT}/configs/reclip_pp/reclip-pp_vit-b16_40k_context59.py')
    for w in ('backbone', 'decode_head.text_encoder'):
        cfg.merge_from_dict({f'model.{w}.clip': TINY_CLIP})
    ctx = str(tmp_path / 'context.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), ctx)
    opts = tiny_options(voc_root)
    proc = run_tool('tools/test.py', RECTIFY, ctx, '--work-dir', str(tmp_path / 'a'), '--cfg-options', *opts,
                    check=False)
    assert proc.returncode != 0 and 'trained for 59 classes, the config has 20' in proc.stderr
    foreign = str(tmp_path / 'foreign.pth')
    torch.save(dict(state_dict={'backbone.layer1.0.conv1.weight': torch.zeros(1)}), foreign)
    proc = run_tool('tools/test.py', RECTIFY, foreign, '--work-dir', str(tmp_path / 'b'), '--cfg-options', *opts,
                    check=False)
    assert proc.returncode != 0 and 'no weights for this module' in proc.stderr and 'rectification checkpoint' in proc.stderr


def test_unknown_vocabulary_lists_the_known_ones():
    from reclip_mmseg.clip import resolve_class_names
    with pytest.raises(KeyError, match='known: .*voc20.*at least 2 names'):
        resolve_class_names('voc_20')
    with pytest.raises(KeyError, match="'cat' is not a known class vocabulary.*single class"):
        resolve_class_names('cat')
    with pytest.raises(ValueError, match=r"repeated: \['cat'\]"):
        resolve_class_names('cat,dog,cat')
    with pytest.raises(ValueError, match=r"repeated: \['sky'\]"):
        resolve_class_names(['sky', 'sea', 'sky'])


def test_run_killed_mid_training_resumes_to_the_uninterrupted_result(voc_root, voc_hypotheses, tmp_path):
    import signal
    import time
    opts = tiny_options(voc_root, voc_hypotheses, iters=30, interval=2)
    whole, killed = str(tmp_path / 'whole'), str(tmp_path / 'killed')
    run_tool('tools/train.py', RECTIFY, '--work-dir', whole, '--cfg-options', *opts, env=DETERMINISTIC_ENV)
    proc = subprocess.Popen([sys.executable, 'tools/train.py', RECTIFY, '--work-dir', killed, '--cfg-options', *opts],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, **DETERMINISTIC_ENV))
    deadline = time.time() + 600  # a hang guard only: a busy machine may be slow to write iter_4.pth
    while not os.path.exists(os.path.join(killed, 'iter_4.pth')) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not os.path.exists(os.path.join(killed, 'iter_30.pth')), 'the run finished before it could be killed'
    resumed = run_tool('tools/train.py', RECTIFY, '--work-dir', killed, '--resume', '--cfg-options', *opts,
                       env=DETERMINISTIC_ENV)
    where = [line for line in (resumed.stdout + resumed.stderr).splitlines() if 'resumed' in line.lower()]
    a = torch.load(os.path.join(whole, 'iter_30.pth'), map_location='cpu', weights_only=True)['state_dict']
    b = torch.load(os.path.join(killed, 'iter_30.pth'), map_location='cpu', weights_only=True)['state_dict']
    for k in a:
        assert torch.equal(a[k], b[k]), (k, where, sorted(os.listdir(killed)))


def test_checkpoint_writes_are_atomic_and_resume_skips_a_truncated_checkpoint(voc_root, voc_hypotheses, tmp_path,
                                                                               monkeypatch):
    import mmengine.runner.runner as runner_module
    target = tmp_path / 'iter_9.pth'
    torch.save({'old': 1}, target)

    def killed_mid_write(obj, f, *a, **k):
        open(f, 'wb').write(b'PK\x03\x04 half a file')
        raise KeyboardInterrupt('killed during the write')
    monkeypatch.setattr(torch, 'save', killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        runner_module.save_checkpoint({'new': 2}, str(target))
    monkeypatch.undo()
    assert torch.load(target, weights_only=True) == {'old': 1}  # the old file is intact
    assert os.listdir(tmp_path) == ['iter_9.pth']  # no temporary file left behind

    wd = tmp_path / 'wd'
    opts = tiny_options(voc_root, voc_hypotheses, iters=4, interval=2)
    run_tool('tools/train.py', RECTIFY, '--work-dir', str(wd), '--cfg-options', *opts)
    assert (wd / 'last_checkpoint').read_text().strip().endswith('iter_4.pth')
    (wd / 'iter_4.pth').write_bytes((wd / 'iter_4.pth').read_bytes()[:1000])  # truncated (a write of old)
    proc = run_tool('tools/train.py', RECTIFY, '--work-dir', str(wd), '--resume', '--cfg-options', *opts)
    out = proc.stdout + proc.stderr
    assert 'could not be loaded' in out and f'resuming from {wd}/iter_2.pth' in out
    assert 'Iter(train) [4/4]' in out and torch.load(wd / 'iter_4.pth', weights_only=True)['meta']['iter'] == 4


def test_divergence_stops_and_a_blown_up_checkpoint_is_never_named_good(tmp_path):
    from types import SimpleNamespace
    from reclip_mmseg.engine.hooks import CheckFiniteLossHook
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(0.5)
    runner = SimpleNamespace(model=model, iter=0, work_dir=str(tmp_path))
    hook = CheckFiniteLossHook(divergence_factor=1e3)
    hook.before_train(runner)
    torch.save(dict(state_dict=model.state_dict()), tmp_path / 'iter_2.pth')  # sane
    blown = {k: v * 1e27 for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=blown), tmp_path / 'iter_4.pth')  # finite, but 1e27 times larger
    (tmp_path / 'iter_6.pth').write_bytes(b'truncated')  # unreadable
    for i, loss in enumerate([3.0, 2.9, 3.1, 3.0, 2.8]):
        runner.iter = i
        hook.after_train_iter(runner, i, outputs=dict(loss=torch.tensor(loss)))
    runner.iter = 5
    with pytest.raises(FloatingPointError, match=r'diverging loss at iteration 6: 3e\+04.*iter_2\.pth'):
        hook.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(3e4)))
    with pytest.raises(FloatingPointError, match='non-finite loss at iteration 6.*iter_2.pth'):
        hook.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(float('nan'))))
    hook.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(30.0)))  # 10x the median: not divergence
    quiet = CheckFiniteLossHook(divergence_factor=None)
    quiet.before_train(runner)
    quiet._recent = [3.0] * 10
    quiet.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(3e9)))  # switched off: no stop
    (tmp_path / 'iter_2.pth').unlink()
    with pytest.raises(FloatingPointError, match='no good checkpoint was saved before it'):
        hook.after_train_iter(runner, 5, outputs=dict(loss=torch.tensor(float('inf'))))
