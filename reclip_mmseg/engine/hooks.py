"""Hooks of the plugin."""
import math
import os

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from ..clip.vocabularies import check_class_names


@HOOKS.register_module()
class CheckClassNamesHook(Hook):
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

    def before_train(self, runner):
        self._check(runner, 'train_dataloader')

    def before_val(self, runner):
        self._check(runner, 'val_dataloader')

    def before_test(self, runner):
        self._check(runner, 'test_dataloader')



@HOOKS.register_module()
class CheckFiniteLossHook(Hook):
    """Stops training at the first non-finite loss, naming the iteration and the last good checkpoint.

    It runs before ``CheckpointHook`` in the same iteration (higher priority), so nothing computed after the
    loss went bad is ever saved; resume from the named checkpoint (e.g. with a lower learning rate).
    """
    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        bad = {k: float(v) for k, v in (outputs or {}).items()
               if 'loss' in k and not math.isfinite(float(v))}
        if not bad:
            return
        last = os.path.join(runner.work_dir, 'last_checkpoint')
        ckpt = open(last).read().strip() if os.path.isfile(last) else None
        where = f'the last good checkpoint is {ckpt} (resume with --resume)' if ckpt else \
            'no checkpoint was saved before it'
        raise FloatingPointError(f'non-finite loss at iteration {runner.iter + 1}: {bad}. Training stopped and '
                                 f'nothing from this iteration was saved; {where}. Check the data and the learning '
                                 f'rate.')
