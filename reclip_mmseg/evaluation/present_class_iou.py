"""``PresentClassIoUMetric``: CLIPer's mIoU (CLIPer@c05fa41:util/miou.py:37-66; docs/training_free.md §6.5), the metric
of its authors' presets (configs/training_free/authors/cliper_*)."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Union

import numpy as np
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.utils import mkdir_or_exist
from mmseg.registry import METRICS
from PIL import Image
from prettytable import PrettyTable

from ..utils.files import prediction_file_name


def confusion_counts(gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore: Sequence[int]):
    """One image's confusion counts, sparse: (flat indices into a K x (K + 1) matrix, counts), K = ``num_classes``.
    Row = ground-truth class; column = predicted class, or column K for a prediction outside 0..K-1 (no class:
    CLIPer's background on a dataset without one). Pixels whose ground truth is in ``ignore`` are dropped."""
    gt, pred = np.asarray(gt).astype(np.int64).ravel(), np.asarray(pred).astype(np.int64).ravel()
    if gt.shape != pred.shape:
        raise ValueError(f'PresentClassIoUMetric: prediction and ground truth differ in size ({pred.size} vs '
                         f'{gt.size} pixels)')
    keep = ~np.isin(gt, np.asarray(list(ignore), dtype=np.int64))
    gt, pred = gt[keep], pred[keep]
    bad = np.unique(gt[(gt < 0) | (gt >= num_classes)])
    if bad.size:
        raise ValueError(f'PresentClassIoUMetric: ground-truth value(s) {bad.tolist()} are neither one of the '
                         f'{num_classes} classes nor ignored ({list(ignore)})')
    column = np.where((pred >= 0) & (pred < num_classes), pred, num_classes)
    index, counts = np.unique(gt * (num_classes + 1) + column, return_counts=True)
    return index, counts


def present_class_iou(hist: np.ndarray):
    """From the K x (K + 1) confusion matrix: (per-class IoU = TP / (row + column − TP + 1e-5), the classes present
    in the ground truth (row sum > 0), pixel accuracy). Row sums include the no-class column; column sums run over
    the K ground-truth rows."""
    K = hist.shape[0]
    tp = np.diag(hist[:, :K])
    iou = tp / (hist.sum(axis=1) + hist[:, :K].sum(axis=0) - tp + 1e-5)
    present = hist.sum(axis=1) > 0
    total = hist.sum()
    return iou, present, (tp.sum() / total if total else float('nan'))


@METRICS.register_module()
class PresentClassIoUMetric(BaseMetric):
    """CLIPer's own mIoU (CLIPer@c05fa41:util/miou.py:37-66), in the dataset's label space:

    - one confusion matrix over the dataset; pixels whose ground truth is in ``ignore_index`` are dropped;
    - IoU_c = TP_c / (row_c + column_c − TP_c + 1e-5);
    - mIoU = the mean over the classes **present in the ground truth** (row_c > 0); MMSeg's ``IoUMetric``
      instead drops only the classes whose union is empty, so a class predicted but absent counts 0 there.

    A prediction outside the dataset's classes (255: CLIPer's background on a dataset that has no background
    class, ``CLIPerAuthorsSegmentor``) counts in an extra "no class" column: it is a miss for the pixel's class and
    a false positive of no class, exactly as the release's background column on those datasets, whose background
    row is always ignored.

    Writes ``mIoU`` and ``aAcc`` (pixel accuracy, the release's pAcc), in %, to the metrics, and the per-class table
    to the log.

    Args:
        ignore_index: the ground-truth value(s) dropped (the release's ``ignore_labels``), in the dataset's
            encoding (255 on this repository's datasets).
        output_dir: when set (``tools/test.py --out DIR``), each prediction is saved there as an 8-bit PNG of the
            dataset's labels (255 where CLIPer left no class; on a ``reduce_zero_label`` dataset label + 1 with 255
            -> 0, the file encoding, as ``IoUMetric`` writes it), named by ``prediction_file_name``: the image's
            base name, as ``IoUMetric`` names it, and ``_right`` / ``_left`` for the Cityscapes halves.
        format_only: only save the predictions (no ground truth needed, no metric), as ``IoUMetric``'s.
    """

    def __init__(self, ignore_index: Union[int, Sequence[int]] = 255, output_dir: Optional[str] = None,
                 format_only: bool = False, collect_device: str = 'cpu', prefix=None, **kwargs):
        kwargs.pop('keep_results', None)  # what MMSeg's tools/test.py --out sets; IoUMetric ignores it as well
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        self.ignore_index = [int(ignore_index)] if isinstance(ignore_index, (int, np.integer)) else \
            [int(i) for i in ignore_index]
        self.output_dir = output_dir
        if self.output_dir and is_main_process():
            mkdir_or_exist(self.output_dir)
        self.format_only = format_only

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze().cpu().numpy()
            if not self.format_only:
                gt = sample['gt_sem_seg']['data'].squeeze().cpu().numpy()
                self.results.append(confusion_counts(gt, pred, num_classes, self.ignore_index))
            if self.output_dir is not None:
                # as IoUMetric: a reduce_zero_label dataset (ADE20K) gets its file encoding back (label + 1, and
                # 255 -> 0, the "other" of ADE's files)
                out = pred.astype(np.int64) + 1 if sample.get('reduce_zero_label', False) else pred
                Image.fromarray((out % 256).astype(np.uint8)).save(
                    osp.abspath(osp.join(self.output_dir, prediction_file_name(sample))))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        if self.format_only:
            print_log(f'PresentClassIoUMetric: format_only, predictions saved to {self.output_dir}',
                      logger=MMLogger.get_current_instance())
            return OrderedDict()
        classes = self.dataset_meta['classes']
        K = len(classes)
        hist = np.zeros(K * (K + 1), dtype=np.int64)
        for index, counts in results:
            np.add.at(hist, index, counts)
        hist = hist.reshape(K, K + 1)
        iou, present, acc = present_class_iou(hist)
        miou = float(iou[present].mean()) if present.any() else float('nan')
        table = PrettyTable()
        table.add_column('Class', list(classes))
        table.add_column('IoU', [f'{100 * v:.2f}' if p else '-' for v, p in zip(iou, present)])
        table.add_column('in GT', ['yes' if p else 'no' for p in present])
        print_log('per class results (CLIPer\'s mIoU: the mean over the classes present in the ground truth):\n'
                  + table.get_string(), logger=MMLogger.get_current_instance())
        return OrderedDict(aAcc=100 * float(acc), mIoU=100 * miou)
