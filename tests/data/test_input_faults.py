"""Label and image files, zero-shot splits, full disks, interrupted output, misspelt keys (issue 27, items 4-6 and
9-14): each fault injected through tools/train.py, tools/test.py or tools/dense_mode_bias.py, as a user meets it.
Tool runs are checked by the files the tools write (metrics JSON, --out, manifest, the table), refusals by the
message raised."""
import glob
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, run_tool, tiny_options
from synthetic import make_voc_tree

MASKCLIP = 'configs/reclip_pp/maskclip-baseline_vit-b16_voc20.py'
TAGCLIP = 'configs/tagclip/tagclip-inductive_vpt-vit-b16_20k_voc20.py'


def _test_options(root):
    return [o for o in tiny_options(root) if not o.startswith(('train', 'param_scheduler', 'default_hooks'))]


def _metrics(work_dir):
    """The metrics JSON MMEngine's runner wrote (work_dir/<timestamp>/<timestamp>.json); None when none was."""
    found = glob.glob(os.path.join(str(work_dir), '2*', '2*.json'))
    return json.load(open(found[0])) if found else None


def _files(root, n):
    return (os.path.join(root, 'JPEGImages', f'2007_val{n:03d}.jpg'),
            os.path.join(root, 'SegmentationClass', f'2007_val{n:03d}.png'))


def _save_exif_rotated(path, upright):
    """Store ``upright`` (H x W x 3) as a JPEG whose pixels lie sideways (W x H) with EXIF Orientation=6 ("rotate
    90 degrees clockwise to display"), as phone cameras write them."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1))).save(path, exif=exif.tobytes())


# ------------------------------------------------------------------------------------------------- 4, 5: files
def test_rgb_label_and_a_label_of_the_sideways_size_are_named_before_the_loop(tmp_path):
    """Item 4: an RGB label PNG crashed inside IoUMetric after the predictions were written. Item 5: a label of the
    raw (sideways) size of an EXIF-rotated JPEG is wrong for the upright image MMSeg loads. Both are named with
    the conversion hint before anything runs."""
    root = make_voc_tree(str(tmp_path / 'data'), n_train=1, n_val=2)
    img0, lab0 = _files(root, 0)
    Image.open(lab0).convert('RGB').save(lab0)  # colours of the VOC palette, three channels
    img1, lab1 = _files(root, 1)
    _save_exif_rotated(img1, np.zeros((64, 80, 3), np.uint8))  # upright 80x64 (w x h), stored 64x80
    Image.new('P', (64, 80)).save(lab1)  # the stored (sideways) size: wrong for the upright image
    out = tmp_path / 'pred'
    proc = run_tool('tools/test.py', MASKCLIP, '--work-dir', str(tmp_path / 'wd'), '--out', str(out),
                    '--cfg-options', *_test_options(root), check=False)
    assert proc.returncode != 0
    assert f'{lab0} is a RGB-mode image (3 channels): a label map needs one channel of class indices' in proc.stderr
    assert 'colour-to-index map' in proc.stderr and "convert('L')" in proc.stderr
    assert f'{lab1} is 64x80 px but its image {img1} is 80x64' in proc.stderr, proc.stderr[-3000:]
    assert _metrics(tmp_path / 'wd') is None and not glob.glob(str(out / '*.png'))  # nothing ran


@pytest.fixture(scope='module')
def exif_run(tmp_path_factory):
    """One tools/test.py run shared by two tests (each run costs seconds): an EXIF-rotated JPEG whose label has the
    upright size, --out, and two misspelt keys (a top-level `lod_from`, `test_evaluator.iou_metric`)."""
    tmp = tmp_path_factory.mktemp('exif')
    root = make_voc_tree(str(tmp / 'data'), n_train=1, n_val=2)
    img0, lab0 = _files(root, 0)
    upright = np.array(Image.open(img0))  # 64 x 80, the size of its label
    _save_exif_rotated(img0, upright)
    assert Image.open(img0).size == (64, 80) and Image.open(lab0).size == (80, 64)
    proc = run_tool('tools/test.py', MASKCLIP, '--work-dir', str(tmp / 'wd'), '--out', str(tmp / 'pred'),
                    '--cfg-options', *_test_options(root), 'lod_from=x.pth', 'test_evaluator.iou_metric=[mIoU]')
    return proc, tmp


def test_exif_rotated_jpeg_with_an_upright_label_runs_and_the_manifest_says_complete(exif_run):
    """Item 5: the check used the raw header size and refused the pair; MMSeg loads the image upright. Item 12:
    --out gets a manifest saying the set is complete, with the count."""
    _, tmp = exif_run
    assert 'mIoU' in _metrics(tmp / 'wd')
    out = tmp / 'pred'
    assert Image.open(out / '2007_val000.png').size == (80, 64)  # predicted upright, at the label's size
    manifest = json.load(open(out / 'manifest.json'))
    assert manifest['complete'] is True and manifest['count'] == manifest['expected'] == 2
    assert manifest['files'] == ['2007_val000.png', '2007_val001.png']


def test_misspelt_top_level_key_and_evaluator_argument_are_named_with_the_closest_name(exif_run):
    """Item 14: `lod_from=` and `test_evaluator.iou_metric=` passed without a word (IoUMetric swallows unknown
    arguments; MMEngine keeps any top-level name). Warnings: the run goes on."""
    proc, tmp = exif_run
    out = proc.stdout + proc.stderr
    assert "config key 'lod_from' is read by nothing" in out and "did you mean 'load_from'?" in out
    assert ("test_evaluator.iou_metric: IoUMetric has no argument 'iou_metric' (it would be ignored); did you mean "
            "'iou_metrics'?") in out
    assert out.count('did you mean') == 2  # the config's own keys and arguments raise nothing
    assert 'mIoU' in _metrics(tmp / 'wd')


# --------------------------------------------------------------------------------------- 6: values outside classes
def test_label_values_outside_the_classes_score_as_ignored_pixels(tmp_path):
    """Item 6: pixels of value 25 (index 24 of VOC-20's 20 classes) were left out of the label counts but their
    predictions still counted in the union. Now the metrics equal those of a run where they are 255 (ignored)."""
    metrics = {}
    for value in (25, 255):
        root = make_voc_tree(str(tmp_path / f'data{value}'), n_train=1, n_val=2)
        for n in (0, 1):
            lab = _files(root, n)[1]
            label = Image.open(lab)
            pixels = np.array(label)
            pixels[:32] = value  # the top half
            out = Image.fromarray(pixels, mode='P')
            out.putpalette(label.getpalette())
            out.save(lab)
        proc = run_tool('tools/test.py', MASKCLIP, '--work-dir', str(tmp_path / f'wd{value}'),
                        '--cfg-options', *_test_options(root))
        metrics[value] = {k: v for k, v in _metrics(tmp_path / f'wd{value}').items() if k in ('aAcc', 'mIoU', 'mAcc')}
        if value == 25:
            assert 'holds value(s) [24], outside the 20 classes of PascalVOC20Dataset' in proc.stdout + proc.stderr
    assert len(metrics[255]) == 3 and metrics[25] == metrics[255], metrics


@pytest.mark.slow  # a TagCLIP training run (~40 s); CI keeps the test-time label checks
def test_training_warns_on_label_values_outside_the_classes_and_a_full_disk_at_checkpoint_is_named(tmp_path):
    """Item 6 in training (TagCLIP reads labels): the values are named and ignored. Item 11: a checkpoint write
    that hits a full disk (the write goes to /dev/full: a real ENOSPC inside torch, which says only 'unexpected
    pos') names the file and the free space, leaves no partial file and says how to go on."""
    from conftest import tiny_tagclip_options
    root = make_voc_tree(str(tmp_path / 'data'), n_train=2, n_val=1, n_aug=1)
    for lab in glob.glob(os.path.join(root, 'SegmentationClass*', '2007_train*.png')) + \
            glob.glob(os.path.join(root, 'SegmentationClass*', '2007_aug*.png')):
        label = Image.open(lab)
        pixels = np.array(label)
        pixels[pixels == 0] = 25  # the background (3/4 of the image): any 512 crop holds some
        out = Image.fromarray(pixels, mode=label.mode)
        if label.mode == 'P':
            out.putpalette(label.getpalette())
        out.save(lab)
    work = tmp_path / 'wd'
    # tools/train.py as it is, with the temporary checkpoint file written to /dev/full (a full disk)
    code = ("import os, runpy, sys, torch\n"
            "_save = torch.save\n"
            "def save(obj, f, *a, **k):\n"
            "    full = isinstance(f, str) and os.path.basename(f).startswith('.tmp_') and f.endswith('.pth')\n"
            "    return _save(obj, '/dev/full' if full else f, *a, **k)\n"
            "torch.save = save\n"
            "sys.argv = sys.argv[1:]\n"
            "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    opts = tiny_tagclip_options(root, iters=2, interval=2) + ['train_cfg.val_interval=100']
    proc = run_tool('-c', code, 'tools/train.py', TAGCLIP, '--work-dir', str(work), '--cfg-options', *opts,
                    check=False)
    out = proc.stdout + proc.stderr
    assert 'holds value(s) [24], outside the 20 classes of ConcatDataset of PascalVOC20Dataset' in out, out[-3000:]
    assert 'those pixels are set to 255 and so ignored' in out
    assert proc.returncode != 0
    ckpt = os.path.join(str(work), 'iter_2.pth')
    assert f'could not write {ckpt} (the disk is full): RuntimeError:' in proc.stderr, proc.stderr[-3000:]
    assert f'free on the disk of {work}' in proc.stderr and 'tools/train.py --resume' in proc.stderr
    assert not os.path.exists(ckpt) and not glob.glob(str(work / '.tmp_*'))


# ---------------------------------------------------------------------------------------------- 9, 10: splits
@pytest.fixture(scope='module')
def tagclip_checkpoint(tmp_path_factory):
    """A TagCLIP VOC checkpoint of the tiny 12-block CLIP (what tools/train.py saves: the model's state dict)."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = Config.fromfile(os.path.join(ROOT, TAGCLIP))
    for where in (cfg.model.backbone, cfg.model.decode_head.text_encoder):
        where.clip = dict(model_name='reclip-tiny-deep', pretrained=None)
    path = str(tmp_path_factory.mktemp('tagclip') / 'iter_2.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta=dict()), path)
    return path


def _tagclip_test(tmp_path, checkpoint, *options):
    from conftest import tiny_tagclip_options
    root = make_voc_tree(str(tmp_path / 'data'), n_train=1, n_val=2)
    out = tmp_path / 'pred'
    proc = run_tool('tools/test.py', TAGCLIP, checkpoint, '--work-dir', str(tmp_path / 'wd'), '--out', str(out),
                    '--cfg-options', *tiny_tagclip_options(root), *options, check=False)
    return proc, out


def test_head_and_evaluator_splits_that_differ_are_refused_before_the_test_pass(tmp_path, tagclip_checkpoint):
    """Item 9: evaluator unseen [0..4], head [15..19]: exit 0 with S / U / hIoU of the wrong split, before."""
    proc, out = _tagclip_test(tmp_path, tagclip_checkpoint, 'test_evaluator.unseen_idx=[0,1,2,3,4]')
    assert proc.returncode != 0
    assert ('zero-shot split mismatch: model.decode_head.unseen_idx=[15, 16, 17, 18, 19] (TagCLIPHead) but '
            'test_evaluator.unseen_idx=[0, 1, 2, 3, 4] (ZeroShotIoUMetric)') in proc.stderr, proc.stderr[-3000:]
    assert _metrics(tmp_path / 'wd') is None and not glob.glob(str(out / '*.png'))


def test_evaluator_split_outside_the_classes_is_refused_before_the_test_pass(tmp_path, tagclip_checkpoint):
    """Item 10: the same error used to come after every image was predicted (and written to --out)."""
    proc, out = _tagclip_test(tmp_path, tagclip_checkpoint, 'test_evaluator.unseen_idx=[15,16,17,18,25]')
    assert proc.returncode != 0
    assert 'ZeroShotIoUMetric.unseen_idx=[15, 16, 17, 18, 25] has ids outside 0..19' in proc.stderr, \
        proc.stderr[-3000:]
    assert not glob.glob(str(out / '*.png'))  # refused before the first prediction


def test_shipped_tagclip_configs_give_head_and_evaluators_one_split():
    """Item 9: each config reads the split from one place; a head with unseen classes and its evaluators agree
    (supervised and cross-dataset heads have none: they report the dataset's split on purpose)."""
    from mmengine.config import Config
    checked = 0
    for path in sorted(glob.glob(os.path.join(ROOT, 'configs', 'tagclip', '*.py'))):
        cfg = Config.fromfile(path)
        head = list(cfg.model.decode_head.get('unseen_idx', []))
        for key in ('val_evaluator', 'test_evaluator'):
            ev = cfg.get(key)
            if head and ev and ev.get('type') == 'ZeroShotIoUMetric':
                assert list(ev.unseen_idx) == head == list(cfg.unseen_idx), (path, key)
                checked += 1
    assert checked >= 12


# ---------------------------------------------------------------------------------- 11, 12: full disk, manifest
def test_full_disk_during_out_names_the_folder_removes_the_partial_file_and_leaves_the_set_incomplete(tmp_path):
    """Item 11: the second prediction is written to /dev/full (a real ENOSPC): the error names --out and its free
    space, the cut-short file is gone. Item 12: a manifest of an earlier complete run in that folder is replaced
    by complete=false at the start, so the interrupted set is marked."""
    root = make_voc_tree(str(tmp_path / 'data'), n_train=1, n_val=3)
    out = tmp_path / 'pred'
    out.mkdir()
    (out / 'manifest.json').write_text(json.dumps(dict(complete=True, count=3)))  # an earlier run's
    os.symlink('/dev/full', out / '2007_val001.png')
    proc = run_tool('tools/test.py', MASKCLIP, '--work-dir', str(tmp_path / 'wd'), '--out', str(out),
                    '--cfg-options', *_test_options(root), check=False)
    assert proc.returncode != 0
    assert (f'--out {out}: no space left on the device while writing the predictions (' in proc.stderr
            and f'free on it now); removed the partial file(s) {out}/2007_val001.png' in proc.stderr), \
        proc.stderr[-3000:]
    assert not os.path.lexists(out / '2007_val001.png') and os.path.getsize(out / '2007_val000.png') > 0
    assert json.load(open(out / 'manifest.json'))['complete'] is False


# ----------------------------------------------------------------------------------------- 13: dense_mode_bias
def test_dense_mode_bias_skips_a_mode_the_clip_cannot_run_and_writes_the_table(tmp_path):
    """Item 13: sc_clip refuses the 2-block tiny CLIP; the run crashed and wrote no table."""
    root = make_voc_tree(str(tmp_path / 'data'), n_train=1, n_val=1)
    out = tmp_path / 'bias.md'
    opts = [f'{w}.{k}' for w in ('model.backbone.clip', 'model.decode_head.text_encoder.clip')
            for k in ('model_name=reclip-tiny', 'pretrained=None')]
    run_tool('tools/dense_mode_bias.py', 'voc20', '--modes', 'sc_clip', 'maskclip', '--out', str(out),
             '--work-dir', str(tmp_path / 'wd'), '--cfg-options', *opts, f'test_dataloader.dataset.data_root={root}',
             'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False')
    table = out.read_text()
    rows = [line for line in table.splitlines() if line.startswith('| ')]
    assert rows[1].startswith('| maskclip | ') and 'not run' not in rows[1]
    assert rows[2] == '| sc_clip | not run | - | - |'
    assert 'sc_clip was not run on CLIP reclip-tiny: ValueError:' in table and '12' in table
