"""BiasMetric on hand-built predictions with hand-computed scores (issue 8)."""
import json

import numpy as np
import pytest
import torch

from conftest import run_tool
from reclip_mmseg.evaluation import BiasMetric, class_preference_score, space_preference_curve


def test_class_preference_score_by_hand():
    conf = np.array([[8, 2, 0], [6, 4, 0], [0, 0, 0]])  # class 2 absent from the ground truth
    # rows normalised: [0.8, 0.2, 0] -> 0.8 - 0.2 = 0.6; [0.6, 0.4, 0] -> 0.4 - 0.6 = -0.2
    assert class_preference_score(conf) == pytest.approx((0.6 - 0.2) / 2)


def test_space_preference_curve_by_hand():
    curve = space_preference_curve([0.05, 0.15, 0.5, 0.95], [0.9, 0.7, 0.5, 0.1], num_bins=2)
    # bins [0, 0.5) and [0.5, 1]: {0.05, 0.15} -> mean 0.8, {0.5, 0.95} -> mean 0.3
    assert curve['bin_centres'] == [0.25, 0.75] and curve['counts'] == [2, 2]
    assert curve['mean_iou'] == pytest.approx([0.8, 0.3])
    assert curve['slope'] == pytest.approx((0.3 - 0.8) / 0.5)


def test_bias_metric_through_the_evaluator_interface(tmp_path):
    gt = np.zeros((5, 5), np.int64)
    gt[2, 2] = 1  # class 1 at the centre, everything else class 0
    gt[0, 0] = 255
    pred = np.zeros((5, 5), np.int64)
    pred[2, 2] = 1
    pred[2, 3] = 1  # one extra pixel of class 1
    metric = BiasMetric(num_bins=2, curve_file=str(tmp_path / 'curve.json'))
    metric.dataset_meta = dict(classes=('a', 'b'))
    sample = dict(pred_sem_seg=dict(data=torch.from_numpy(pred)[None]), gt_sem_seg=dict(data=torch.from_numpy(gt)[None]))
    metric.process({}, [sample])
    out = metric.evaluate(1)
    # confusion: class 0 has 23 valid pixels (24 minus the ignored one), 22 right, 1 taken by class 1
    expected_class = ((22 / 23 - 1 / 23) + (1 - 0)) / 2
    assert out['bias/class_pref_score'] == pytest.approx(expected_class)
    # objects: class 1 at distance 0 with IoU 1/2; class 0 (centroid of its 23 pixels) with IoU 22/23
    ys, xs = np.nonzero((gt == 0))
    d0 = np.hypot(ys.mean() - 2, xs.mean() - 2) / np.hypot(2, 2)
    assert d0 < 0.5
    assert np.isnan(out['bias/space_pref_slope'])  # both objects fall in the first bin: no slope
    curve = json.load(open(tmp_path / 'curve.json'))
    assert curve['counts'] == [2] and curve['mean_iou'][0] == pytest.approx((0.5 + 22 / 23) / 2)
    png = str(tmp_path / 'plot.png')
    json.dump(dict(bin_centres=[0.25, 0.75], mean_iou=[0.6, 0.3], counts=[3, 2], slope=-0.6),
              open(tmp_path / 'c2.json', 'w'))
    proc = run_tool('tools/plot_space_bias.py', str(tmp_path / 'c2.json'), '--labels', 'x', '--out', png)
    assert 'x (slope -60.0 %/unit)' in proc.stdout and 'n=3; n=2' in proc.stdout  # the axis's unit, bin counts
    from PIL import Image
    assert Image.open(png).size[0] > 100


def test_a_misspelt_argument_is_an_error_not_a_missing_curve():
    with pytest.raises(TypeError, match='curve_fle'):
        BiasMetric(curve_fle='x.json')
