"""``ZeroShotIoUMetric``: MMSeg's IoU with the generalised zero-shot summary (docs/tagclip.md §1.3)."""
import math
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS
from prettytable import PrettyTable


def harmonic_iou(seen: float, unseen: float) -> float:
    """hIoU = 2·S·U / (S + U); nan when either is nan, 0 when both are 0."""
    if math.isnan(seen) or math.isnan(unseen):
        return float('nan')
    return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)


@METRICS.register_module()
class ZeroShotIoUMetric(IoUMetric):
    """aAcc, mIoU over all classes, mIoU(S) and mIoU(U) (nan-means over the seen / unseen classes) and
    hIoU = 2·mIoU(S)·mIoU(U) / (mIoU(S) + mIoU(U)), plus the per-class table with each class's split.

    Args:
        unseen_idx: indices (dataset label ids) of the unseen classes, or
        unseen_classes: their names (checked against the dataset's classes). Neither: every class is seen.
        Other arguments as MMSeg's ``IoUMetric`` (only 'mIoU' is summarised by split).
    """

    def __init__(self, unseen_idx: Optional[Sequence[int]] = None, unseen_classes: Optional[Sequence[str]] = None,
                 **kwargs):
        kwargs.setdefault('iou_metrics', ['mIoU'])
        super().__init__(**kwargs)
        if unseen_idx is not None and unseen_classes is not None:
            raise ValueError('ZeroShotIoUMetric: give unseen_idx or unseen_classes, not both')
        self.unseen_idx = None if unseen_idx is None else sorted({int(i) for i in unseen_idx})
        self.unseen_classes = None if unseen_classes is None else list(unseen_classes)

    def _unseen(self, class_names: Sequence[str]) -> list:
        if self.unseen_classes is not None:
            missing = [n for n in self.unseen_classes if n not in class_names]
            if missing:
                raise ValueError(f'ZeroShotIoUMetric.unseen_classes: {missing} are not classes of the dataset '
                                 f'({list(class_names)})')
            return sorted(class_names.index(n) for n in self.unseen_classes)
        unseen = self.unseen_idx or []
        if any(not 0 <= i < len(class_names) for i in unseen):
            raise ValueError(f'ZeroShotIoUMetric.unseen_idx={unseen} has ids outside 0..{len(class_names) - 1} '
                             f'(the dataset has {len(class_names)} classes): set the evaluator\'s unseen_idx '
                             f'(test_evaluator / val_evaluator in the config; the shipped TagCLIP configs read it '
                             f'and model.decode_head.unseen_idx from one top-level unseen_idx) to ids of this dataset')
        return unseen

    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        """The evaluator is given the dataset's meta when its loop is built, before any image is run: the split is
        checked against the dataset's classes then, not after the whole pass."""
        self._dataset_meta = dataset_meta
        if dataset_meta and dataset_meta.get('classes') is not None:
            self._unseen(list(dataset_meta['classes']))

    def unseen_ids(self) -> Optional[list]:
        """The unseen class ids (resolved from names against the dataset's classes), None before the dataset's
        meta is known."""
        if not self.dataset_meta or self.dataset_meta.get('classes') is None:
            return None
        return self._unseen(list(self.dataset_meta['classes']))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        if self.format_only:
            return OrderedDict()
        areas = [sum(r) for r in zip(*results)]
        ret = self.total_area_to_metrics(*areas, self.metrics, self.nan_to_num, self.beta)
        class_names = list(self.dataset_meta['classes'])
        unseen = self._unseen(class_names)
        seen = [i for i in range(len(class_names)) if i not in unseen]
        iou = np.asarray(ret['IoU'], dtype=float)

        def nanmean(idx):
            vals = iou[idx]
            return float(np.nanmean(vals)) * 100 if len(vals) and not np.isnan(vals).all() else float('nan')
        s, u = nanmean(seen), nanmean(unseen)
        metrics = OrderedDict(aAcc=round(float(ret['aAcc']) * 100, 2), mIoU=round(nanmean(list(range(len(iou)))), 2))
        metrics['mIoU(S)'] = round(s, 2)
        metrics['mIoU(U)'] = round(u, 2)
        metrics['hIoU'] = round(harmonic_iou(s, u), 2)

        table = PrettyTable()
        table.add_column('Class', class_names)
        table.add_column('Split', ['unseen' if i in unseen else 'seen' for i in range(len(class_names))])
        for key, val in ret.items():
            if key != 'aAcc':
                table.add_column(key, list(np.round(np.asarray(val, dtype=float) * 100, 2)))
        print_log('per class results:', logger)
        print_log('\n' + table.get_string(), logger=logger)
        return metrics
