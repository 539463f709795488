"""Hooks of the plugin."""
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

