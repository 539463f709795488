"""Hooks of the plugin."""
import logging
import math
import statistics
import time
from typing import Dict, List, Optional

import numpy as np
import torch

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..clip.vocabularies import check_class_names
from ..utils.files import LABEL_CHANNELS_FAULT, LABEL_MODE_HINT, image_file_header, iteration_checkpoints


class _DatasetCheckHook(Hook):
    """Runs ``_check(runner, loader_name)`` before each train / val / test loop, on that loop's dataset."""

    def _check(self, runner, loader_name: str) -> None:
        raise NotImplementedError

    def before_train(self, runner):
        self._check(runner, 'train_dataloader')

    def before_val(self, runner):
        self._check(runner, 'val_dataloader')

    def before_test(self, runner):
        self._check(runner, 'test_dataloader')


def check_zero_shot_split(model, evaluator, evaluator_key: str) -> None:
    """Raise ``ValueError`` when a head's zero-shot split (``unseen_idx``, e.g. TagCLIPHead's) and a
    ``ZeroShotIoUMetric``'s of ``evaluator`` differ: S / U / hIoU would be reported for another split than the one
    the model treats as unseen. A head with no unseen classes (supervised, cross-dataset configs) is not
    compared: those configs report the dataset's zero-shot split on purpose."""
    from ..evaluation.zero_shot_metric import ZeroShotIoUMetric
    heads = [m for m in model.modules() if hasattr(m, 'unseen_idx') and hasattr(m, 'class_names')]
    metrics = [m for m in getattr(evaluator, 'metrics', []) if isinstance(m, ZeroShotIoUMetric)]
    for head in heads:
        head_unseen = sorted(int(i) for i in head.unseen_idx)
        if not head_unseen:
            continue
        for metric in metrics:
            metric_unseen = metric.unseen_ids()
            if metric_unseen is not None and metric_unseen != head_unseen:
                raise ValueError(
                    f'zero-shot split mismatch: model.decode_head.unseen_idx={head_unseen} '
                    f'({type(head).__name__}) but {evaluator_key}.unseen_idx={metric_unseen} (ZeroShotIoUMetric'
                    f'{", from unseen_classes" if metric.unseen_classes is not None else ""}): mIoU(S) / mIoU(U) '
                    f'/ hIoU would be reported for another split than the model\'s. Give both the same ids (the '
                    f'shipped TagCLIP configs read both from the top-level unseen_idx of their dataset base; '
                    f'--cfg-options overrides each key separately). Nothing has been run yet.')


@HOOKS.register_module()
class CheckClassNamesHook(_DatasetCheckHook):
    """Fails before a loop starts when the head's class names are not the dataset's classes (showing both), or
    when a zero-shot head's ``unseen_idx`` is not the ``ZeroShotIoUMetric``'s of the loop that evaluates it (the
    val loop's for training; see ``check_zero_shot_split``)."""

    def _check(self, runner, loader_name: str):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        loop = {'train_dataloader': 'val_loop', 'val_dataloader': 'val_loop', 'test_dataloader': 'test_loop'}
        evaluator = getattr(getattr(runner, loop[loader_name], None), 'evaluator', None)
        if evaluator is not None:
            check_zero_shot_split(model, evaluator, 'test_evaluator' if loader_name == 'test_dataloader'
                                  else 'val_evaluator')
        heads = [m for m in model.modules() if hasattr(m, 'class_names') and hasattr(m, 'query_embeds')]
        if not heads:
            return
        dataset = getattr(runner, loader_name).dataset
        classes = dataset.metainfo.get('classes')
        if classes is None:
            return
        for head in heads:
            check_class_names(head.class_names, classes,
                              f'{type(head).__name__}.class_names vs {type(dataset).__name__} ({loader_name})')


def dataset_samples(dataset):
    """The ``data_info`` dicts of a dataset, each file once through MMEngine's wrappers (Concat, Repeat,
    ClassBalanced)."""
    if hasattr(dataset, 'datasets'):  # ConcatDataset
        for part in dataset.datasets:
            yield from dataset_samples(part)
    elif hasattr(dataset, 'dataset'):  # RepeatDataset / ClassBalancedDataset: the wrapped one, not its repeats
        yield from dataset_samples(dataset.dataset)
    else:
        dataset.full_init()
        for i in range(len(dataset)):
            yield dataset.get_data_info(i)


@HOOKS.register_module()
class CheckImageFilesHook(_DatasetCheckHook):
    """Fails before a loop starts when image or label files of its dataset cannot be used, naming every such
    file: missing, empty (0 bytes), not an image, a side under ``min_side`` px (MMSeg's loaders squeeze a 1-px
    side away and fail deep inside the pipeline without naming the file), a label map of several channels (an RGB
    colour label: IoUMetric fails on it after the whole pass, TagCLIP's batching mid-training), or a label map
    whose size is not its image's (IoUMetric would fail on it). An image's size is taken upright, its EXIF
    orientation applied as MMSeg's loader applies it. Reads file headers only (tens of microseconds a file); each
    dataset is checked once per process.

    Args:
        min_side: the shortest image side accepted, in pixels.
        check_labels: also check the label maps (``seg_map_path``) and that they match their image's size.
        max_listed: how many faulty files the error lists (it always gives the count).
    """
    priority = 'VERY_HIGH'

    def __init__(self, min_side: int = 2, check_labels: bool = True, max_listed: int = 20):
        self.min_side, self.check_labels, self.max_listed = min_side, check_labels, max_listed
        self._checked = set()

    def _check(self, runner, loader_name: str) -> None:
        loader = getattr(runner, loader_name, None)
        dataset = getattr(loader, 'dataset', None)
        if dataset is None or id(dataset) in self._checked:
            return
        self._checked.add(id(dataset))
        start, count, faults = time.perf_counter(), 0, []
        for info in dataset_samples(dataset):
            files = [info.get('img_path'), info.get('seg_map_path') if self.check_labels else None]
            sizes = []
            for path, label in ((files[0], False), (files[1], True)):
                if not path:
                    continue
                count += 1
                fault, size = image_file_header(path, self.min_side, label=label)
                sizes.append(size)
                if fault:
                    faults.append(f'{path} {fault}')
            if len(sizes) == 2 and all(sizes) and sizes[0] != sizes[1] and min(min(sizes)) >= self.min_side:
                (iw, ih), (lw, lh) = sizes
                faults.append(f'{files[1]} is {lw}x{lh} px but its image {files[0]} is {iw}x{ih}')
        if faults:
            listed = '\n  '.join(faults[:self.max_listed])
            more = f'\n  ... and {len(faults) - self.max_listed} more' if len(faults) > self.max_listed else ''
            hint = f'\n{LABEL_MODE_HINT}' if any(LABEL_CHANNELS_FAULT in f for f in faults) else ''
            raise ValueError(
                f'{len(faults)} unusable file(s) in the {loader_name} dataset ({type(dataset).__name__}, '
                f'data_root {getattr(dataset, "data_root", "?")}):\n  {listed}{more}\nReplace them, or remove '
                f'their names from the split file (ann_file) and start again; nothing has been run yet. '
                f'(CheckImageFilesHook: min_side={self.min_side}, check_labels={self.check_labels}.){hint}')
        seconds = time.perf_counter() - start
        if seconds > 5:
            print_log(f'CheckImageFilesHook: {count} files of the {loader_name} dataset checked in {seconds:.0f} s',
                      logger='current')


@HOOKS.register_module()
class IterationSeedHook(Hook):
    """Reseeds torch's global generators (CPU and CUDA) before each training iteration from (the run's seed, the
    iteration), so the model's own randomness (dropout, TagCLIP's prompt dropout) at iteration i is the same in an
    uninterrupted run and in one resumed from a checkpoint. MMEngine restores parameters, optimiser and scheduler
    and replays the data stream on resume (numpy / random, which the data pipeline draws from, are left to that
    replay), but it does not restore torch's generator. The run's seed is MMEngine's (``randomness.seed``; offset
    by the rank with ``randomness.diff_rank_seed``), so ranks share or split the stream as MMEngine decides."""
    priority = 'VERY_HIGH'

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        seed = runner.seed if runner.seed is not None else 0
        # SeedSequence mixes (seed, iteration) so nearby iterations get unrelated streams
        torch.manual_seed(int(np.random.SeedSequence([seed, runner.iter]).generate_state(1, np.uint64)[0]))


def _batch_samples(data_batch):
    """The data samples of a batch, flat (test-time augmentation nests them one list deeper)."""
    samples = (data_batch or {}).get('data_samples') if isinstance(data_batch, dict) else None
    stack = list(samples or [])
    while stack:
        sample = stack.pop(0)
        if isinstance(sample, (list, tuple)):
            stack[:0] = list(sample)
        else:
            yield sample


def _dataset_name(dataset) -> str:
    """'PascalVOC20Dataset', or through MMEngine's wrappers 'ConcatDataset of PascalVOC20Dataset'."""
    inner = getattr(dataset, 'datasets', None) or ([dataset.dataset] if hasattr(dataset, 'dataset') else None)
    return f'{type(dataset).__name__} of {_dataset_name(inner[0])}' if inner else type(dataset).__name__


@HOOKS.register_module()
class CheckLabelValuesHook(Hook):
    """Makes ground-truth label values outside the classes ignored pixels, and says so once per value.

    A value that is neither a class index of the dataset nor the ignore index (a wrong ``reduce_zero_label``, a
    label map of another dataset) is set to the ignore index in the batch before the model and the evaluator see
    it, in training, validation and testing alike: MMSeg's IoUMetric would otherwise drop it from the label
    counts but still count the prediction there in the union (a lower IoU than with those pixels marked
    ignored), and a loss would fail on an out-of-range target. The warning names the file and the value.

    Args:
        ignore_index: the value the pixels are given; in validation and testing the evaluator's own
            ``ignore_index`` (IoUMetric's) is used when it has one.
    """
    priority = 'VERY_HIGH'  # before any other hook reads the batch

    def __init__(self, ignore_index: int = 255):
        self.ignore_index = ignore_index
        self._seen = set()

    def _ignore_index(self, runner, loader_name: str) -> int:
        if loader_name == 'train_dataloader':
            return self.ignore_index
        loop = runner.val_loop if loader_name == 'val_dataloader' else runner.test_loop
        values = {m.ignore_index for m in getattr(getattr(loop, 'evaluator', None), 'metrics', [])
                  if isinstance(getattr(m, 'ignore_index', None), int)}
        return values.pop() if len(values) == 1 else self.ignore_index

    def _check(self, runner, loader_name: str, data_batch) -> None:
        dataset = getattr(runner, loader_name).dataset
        classes = getattr(dataset, 'metainfo', {}).get('classes')
        if not classes:
            return
        ignore = self._ignore_index(runner, loader_name)
        for sample in _batch_samples(data_batch):
            gt = getattr(sample, 'gt_sem_seg', None)
            if gt is None:
                continue
            data = gt.data
            outside = ((data < 0) | (data >= len(classes))) & (data != ignore)
            if not bool(outside.any()):
                continue
            values = sorted(int(v) for v in torch.unique(data[outside]))
            data[outside] = ignore  # in place: the model's and the evaluator's view of this sample
            new = [v for v in values if v not in self._seen]
            if new:
                self._seen.update(new)
                print_log(f'label map {sample.metainfo.get("seg_map_path", "?")} holds value(s) {new}, outside the '
                          f'{len(classes)} classes of {_dataset_name(dataset)} and not the ignore index {ignore}: '
                          f'those pixels are set to {ignore} and so ignored (counted in no class, by the metric '
                          f'and the loss alike). Check reduce_zero_label and that the labels belong to this '
                          f'dataset (said once per value).', logger='current', level=logging.WARNING)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._check(runner, 'train_dataloader', data_batch)

    def before_val_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._check(runner, 'val_dataloader', data_batch)

    def before_test_iter(self, runner, batch_idx, data_batch=None) -> None:
        self._check(runner, 'test_dataloader', data_batch)


@HOOKS.register_module()
class CheckFiniteLossHook(Hook):
    """Stops training at the first non-finite or diverging loss, naming the iteration and the last good
    checkpoint.

    It runs before ``CheckpointHook`` in the same iteration (higher priority), so nothing computed after the
    loss went bad is ever saved; resume from the named checkpoint (e.g. with a lower learning rate).

    Args:
        divergence_factor: also stop when a loss exceeds this many times the median of the last
            ``window`` losses (after ``min_history`` of them); None: only non-finite losses stop training.
        window, min_history: the reference losses for divergence.

    "Last good" checkpoint: the newest ``iter_*.pth`` of the work dir whose trained tensors are all finite and
    no more than ``divergence_factor`` times larger (max |value|) than at the start of this run: a finite loss
    can still be followed by an update that blew the parameters up, so the file itself is checked.
    """
    priority = 'ABOVE_NORMAL'

    def __init__(self, divergence_factor: Optional[float] = 1e3, window: int = 50, min_history: int = 5):
        self.divergence_factor = divergence_factor
        self.window, self.min_history = window, min_history
        self._recent: List[float] = []
        self._start_scale: Dict[str, float] = {}

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self._start_scale = {k: float(p.detach().abs().max()) for k, p in model.named_parameters()
                             if p.requires_grad and p.numel()}

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        losses = {k: float(torch.as_tensor(v).detach()) for k, v in (outputs or {}).items() if 'loss' in k}
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        total = losses.get('loss', sum(losses.values()) if losses else 0.0)
        reason = f'non-finite loss at iteration {runner.iter + 1}: {bad}' if bad else None
        if reason is None and self.divergence_factor and len(self._recent) >= self.min_history:
            reference = statistics.median(self._recent)
            if reference > 0 and total > self.divergence_factor * reference:
                reason = (f'diverging loss at iteration {runner.iter + 1}: {total:.4g}, more than '
                          f'{self.divergence_factor:g} x the median {reference:.4g} of the last {len(self._recent)} '
                          f'iterations (CheckFiniteLossHook.divergence_factor; None switches this check off)')
        if reason is None:
            self._recent = (self._recent + [total])[-self.window:]
            return
        good = self._last_good_checkpoint(runner.work_dir)
        where = f'the last good checkpoint is {good} (resume from it: --resume with it named in ' \
                f'last_checkpoint, or load_from)' if good else 'no good checkpoint was saved before it'
        raise FloatingPointError(f'{reason}. Training stopped and nothing from this iteration was saved; {where}. '
                                 f'Check the data and the learning rate.')

    def _last_good_checkpoint(self, work_dir: str) -> Optional[str]:
        return next((path for path in iteration_checkpoints(work_dir) if self._checkpoint_is_sane(path)), None)

    def _checkpoint_is_sane(self, path: str) -> bool:
        try:
            state = torch.load(path, map_location='cpu', weights_only=True).get('state_dict', {})
        except Exception:  # noqa: BLE001 - unreadable (e.g. truncated): not a good checkpoint
            return False
        for key, start in self._start_scale.items():
            value = state.get(key)
            if value is None or not torch.is_floating_point(value):
                continue
            if not torch.isfinite(value).all():
                return False
            if self.divergence_factor and float(value.abs().max()) > self.divergence_factor * max(start, 1e-3):
                return False
        return True
