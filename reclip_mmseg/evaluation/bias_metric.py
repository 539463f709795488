"""``BiasMetric``: the paper's class-preference and space-preference scores (Table VII)."""
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS


def class_preference_score(confusion: np.ndarray) -> float:
    """Mean over classes of (diagonal − largest off-diagonal entry) of the row-normalised confusion matrix
    (rows: ground truth, columns: prediction). 1 = no confusion; low or negative = a class is mostly taken by
    another (preferred) class. Classes absent from the ground truth are skipped."""
    rows = confusion.sum(1)
    valid = rows > 0
    norm = confusion[valid] / rows[valid, None]
    idx = np.flatnonzero(valid)
    diag = norm[np.arange(len(idx)), idx]
    off = norm.copy()
    off[np.arange(len(idx)), idx] = -np.inf
    return float(np.mean(diag - off.max(1)))


def space_preference_curve(distances: Sequence[float], ious: Sequence[float], num_bins: int = 5) -> Dict:
    """Mean IoU of objects binned by the normalised distance (0 centre .. 1 corner) of their centroid from
    the image centre, and the mean slope of that curve (least squares over the non-empty bins)."""
    d, v = np.asarray(distances, float), np.asarray(ious, float)
    edges = np.linspace(0, 1, num_bins + 1)
    which = np.clip(np.digitize(d, edges[1:-1]), 0, num_bins - 1)
    centres, means, counts = [], [], []
    for b in range(num_bins):
        sel = which == b
        if sel.any():
            centres.append(float((edges[b] + edges[b + 1]) / 2))
            means.append(float(v[sel].mean()))
            counts.append(int(sel.sum()))
    slope = float(np.polyfit(centres, means, 1)[0]) if len(centres) >= 2 else float('nan')
    return dict(bin_centres=centres, mean_iou=means, counts=counts, slope=slope)


@METRICS.register_module()
class BiasMetric(BaseMetric):
    """Class-preference score and space-preference slope of a segmentation (ReCLIP++ Table VII).

    Usable beside ``IoUMetric``: ``test_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
    dict(type='BiasMetric', curve_file='work_dirs/x/space_bias.json')]``.

    Space preference: each (image, ground-truth class) region is an object; its centroid's distance from the
    image centre is normalised by the half diagonal, its IoU is that class's IoU in that image. The score is
    the least-squares slope of mean IoU against distance over ``num_bins`` bins (IoU in [0, 1]); negative
    means objects far from the centre are segmented worse. ``curve_file`` stores the curve for
    ``tools/plot_space_bias.py``.
    """
    default_prefix = 'bias'

    def __init__(self, num_bins: int = 5, ignore_index: int = 255, curve_file: Optional[str] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        # No **kwargs: a misspelt argument (curve_fle=...) must fail, not silently give no curve.
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_bins, self.ignore_index, self.curve_file = num_bins, ignore_index, curve_file

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze().cpu().numpy().astype(np.int64)
            gt = sample['gt_sem_seg']['data'].squeeze().cpu().numpy().astype(np.int64)
            self.results.append(self.image_statistics(pred, gt, num_classes, self.ignore_index))

    @staticmethod
    def image_statistics(pred: np.ndarray, gt: np.ndarray, num_classes: int, ignore_index: int = 255):
        valid = gt != ignore_index
        conf = np.bincount(num_classes * gt[valid] + pred[valid], minlength=num_classes ** 2)
        h, w = gt.shape
        half_diag = np.hypot((h - 1) / 2, (w - 1) / 2) or 1.0
        objects = []
        for c in np.unique(gt[valid]):
            mask = gt == c
            ys, xs = np.nonzero(mask)
            dist = np.hypot(ys.mean() - (h - 1) / 2, xs.mean() - (w - 1) / 2) / half_diag
            pred_c = (pred == c) & valid
            iou = (mask & pred_c).sum() / max((mask | pred_c).sum(), 1)
            objects.append((float(dist), float(iou)))
        return conf.reshape(num_classes, num_classes), objects

    def compute_metrics(self, results: List) -> Dict[str, float]:
        confusion = sum(r[0] for r in results)
        objects = [o for r in results for o in r[1]]
        curve = space_preference_curve([o[0] for o in objects], [o[1] for o in objects], self.num_bins)
        if self.curve_file:
            os.makedirs(os.path.dirname(os.path.abspath(self.curve_file)), exist_ok=True)
            with open(self.curve_file, 'w') as f:
                json.dump(dict(curve, class_preference_score=class_preference_score(confusion)), f, indent=2)
            print_log(f'space-preference curve written to {self.curve_file}', logger='current')
        return dict(class_pref_score=class_preference_score(confusion), space_pref_slope=curve['slope'])
