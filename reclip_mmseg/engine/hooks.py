"""Hooks of the plugin."""
import logging
import math
import os
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
from ..utils.files import image_file_header, iteration_checkpoints


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


@HOOKS.register_module()
class CheckClassNamesHook(_DatasetCheckHook):
    """Fails before a loop starts when the head's class names are not the dataset's classes (showing both)."""

    def _check(self, runner, loader_name: str):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
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
    side away and fail deep inside the pipeline without naming the file), or a label map whose size is not its
    image's (IoUMetric would fail on it). Reads file headers only (tens of microseconds a file); each dataset
    is checked once per process.

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
            for path in filter(None, files):
                count += 1
                fault, size = image_file_header(path, self.min_side)
                sizes.append(size)
                if fault:
                    faults.append(f'{path} {fault}')
            if len(sizes) == 2 and all(sizes) and sizes[0] != sizes[1] and min(min(sizes)) >= self.min_side:
                (iw, ih), (lw, lh) = sizes
                faults.append(f'{files[1]} is {lw}x{lh} px but its image {files[0]} is {iw}x{ih}')
        if faults:
            listed = '\n  '.join(faults[:self.max_listed])
            more = f'\n  ... and {len(faults) - self.max_listed} more' if len(faults) > self.max_listed else ''
            raise ValueError(
                f'{len(faults)} unusable file(s) in the {loader_name} dataset ({type(dataset).__name__}, '
                f'data_root {getattr(dataset, "data_root", "?")}):\n  {listed}{more}\nReplace them, or remove '
                f'their names from the split file (ann_file) and start again; nothing has been run yet. '
                f'(CheckImageFilesHook: min_side={self.min_side}, check_labels={self.check_labels}.)')
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


@HOOKS.register_module()
class CheckLabelValuesHook(Hook):
    """Warns, once per value, when a ground-truth label map holds a value that is neither a class index of the
    dataset nor the ignore index: IoUMetric would drop those pixels without a word (as if ignored), which hides
    a wrong ``reduce_zero_label`` or a label map of another dataset. Names the file and the value."""

    def __init__(self, ignore_index: int = 255):
        self.ignore_index = ignore_index
        self._seen = set()

    def _check(self, runner, loader_name: str, outputs) -> None:
        classes = getattr(getattr(runner, loader_name).dataset, 'metainfo', {}).get('classes')
        if not classes or not outputs:
            return
        for sample in outputs:
            gt = getattr(sample, 'gt_sem_seg', None)
            if gt is None:
                continue
            values = torch.unique(gt.data)
            bad = [int(v) for v in values if (v < 0 or v >= len(classes)) and int(v) != self.ignore_index]
            new = [v for v in bad if v not in self._seen]
            if new:
                self._seen.update(new)
                print_log(f'label map {sample.metainfo.get("seg_map_path", "?")} holds value(s) {new}, outside the '
                          f'{len(classes)} classes of {type(getattr(runner, loader_name).dataset).__name__} and not '
                          f'the ignore index {self.ignore_index}: IoUMetric scores those pixels as ignored. Check '
                          f'reduce_zero_label and that the labels belong to this dataset (said once per value).',
                          logger='current', level=logging.WARNING)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._check(runner, 'val_dataloader', outputs)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._check(runner, 'test_dataloader', outputs)


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
