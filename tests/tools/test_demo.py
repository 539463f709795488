"""The README's first command (the embedded demo) end to end on the tiny CLIP (issue 8)."""
import json
import os

from PIL import Image

from conftest import run_tool


def test_demo_runs_end_to_end_and_says_clip_is_untrained(tmp_path):
    out = str(tmp_path / 'demo')
    proc = run_tool('tools/run_demo.py', '--clip', 'tiny', '--iters', '4', '--out', out, timeout=600)
    assert 'UNTRAINED' in proc.stdout and 'mIoU' in proc.stdout
    summary = json.load(open(os.path.join(out, 'summary.json')))
    assert summary['untrained_clip'] and 'UNTRAINED' in summary['clip_description']
    assert 0.0 <= summary['test_metrics']['mIoU'] <= 100.0
    assert len(summary['hypotheses']) == 9  # training images, keyed by file name
    assert summary['overlays'] == ['test_demo_voc.jpg_0.png', 'test_demo_voc_flip.jpg_0.png']
    w, h = Image.open(os.path.join(out, 'overlays', summary['overlays'][0])).size
    assert (w, h) == (1000, 375)  # ground truth | prediction, side by side at the image's size
    assert 'UNTRAINED' in open(os.path.join(out, 'demo.log')).read()
