"""Which configs need a checkpoint to be tested, and which cannot use one (issue 27, items 1-2).

A trained method (ReCLIP++, ReCLIP, their students, TagCLIP / ZegCLIP) tested without its checkpoint would print
metrics of random prompts and heads; a training-free config (MaskCLIP and the dense modes) given a checkpoint would
ignore it, since MMEngine loads non-strictly. ``tools/test.py`` asks this module before anything is built.
"""
from typing import Optional

# decode-head type -> the method as the errors name it
TRAINED_HEADS = {
    'BiasRectifiedHead': 'ReCLIP++ (rectification)', 'DependentBiasHead': 'ReCLIP (CVPR, rectification)',
    'RectifiedDistillHead': 'the distillation student', 'DeepLabV2Head': 'the distillation student (own head)',
    'TagCLIPHead': 'TagCLIP / ZegCLIP'}
TRAINING_FREE_HEADS = {'MaskCLIPHead': 'training-free (MaskCLIP head)', 'CLIPerHead': 'training-free (CLIPer head)'}


def _decode_head_type(model_cfg) -> Optional[str]:
    while model_cfg is not None and 'decode_head' not in model_cfg and 'module' in model_cfg:  # SegTTAModel
        model_cfg = model_cfg['module']
    head = (model_cfg or {}).get('decode_head') or {}
    return head.get('type') if isinstance(head, dict) else None


def check_test_checkpoint(model_cfg, checkpoint: Optional[str], config: str, untrained: bool = False,
                          ignore_checkpoint: bool = False) -> Optional[str]:
    """The checkpoint to load, or a ``SystemExit`` that says what to do: a trained method's config needs one
    (``untrained``: run it anyway, a smoke test); a training-free config cannot use one (``ignore_checkpoint``: go
    on without it)."""
    head = _decode_head_type(model_cfg)
    if head in TRAINED_HEADS and checkpoint is None and not untrained:
        raise SystemExit(
            f'{config}: {TRAINED_HEADS[head]} is a trained method ({head}) and no CHECKPOINT was given, so its '
            f'trained parts would be random and the metrics meaningless. Give it: python tools/test.py {config} '
            f'CHECKPOINT (made by tools/train.py {config}); --untrained runs it anyway (a smoke test).')
    if head in TRAINING_FREE_HEADS and checkpoint is not None:
        if not ignore_checkpoint:
            raise SystemExit(
                f'{config} is {TRAINING_FREE_HEADS[head]}: the method has no trained weights, so checkpoint '
                f'{checkpoint} would not be used. Leave it out, or pass --ignore-checkpoint to go on without it.')
        return None
    return checkpoint
