"""Checks that a checkpoint fits the head it is loaded into, shared by every trained head (ReCLIP++, ReCLIP,
the distillation student, TagCLIP): MMEngine only warns on missing or misshapen weights and goes on with part of
the head random."""
from typing import Optional


def check_head_checkpoint(head, state_dict, prefix: str, decoder_key: Optional[str], expected: str,
                          hint: str = '') -> None:
    """Refuse, with a message, a checkpoint that does not fit this head: none of its weights (another stage or
    model), any trained tensor missing, or a tensor of another shape (another CLIP, class count or student).
    MMEngine would only warn and go on with part of the head random, and print an mIoU."""
    own = [k for k in state_dict if k.startswith(prefix)]
    if not own:  # (PyTorch hands each module only its own keys: what else the file holds is not visible here)
        raise ValueError(f'{type(head).__name__}: the checkpoint has no weights for this module (prefix '
                         f"'{prefix}'), so it is not a checkpoint of this {method_of_head(head)} config; expected "
                         f'{expected}. Use the config it was trained with.')
    weight = state_dict.get(prefix + decoder_key) if decoder_key else None
    if weight is not None and weight.shape[0] != head.num_classes:
        raise ValueError(f'{type(head).__name__}: the checkpoint was trained for {weight.shape[0]} classes, the '
                         f'config has {head.num_classes} ({list(head.class_names)[:5]}...); use the config it was '
                         f'trained with')
    # Every persistent tensor of the head, with its shape (a checkpoint of an earlier version has the Gumbel
    # noise as 'rng_state' instead of 'noise_state': GumbelMask restarts its stream with a warning).
    missing, mismatched = [], []
    for key, tensor in head.state_dict().items():
        got = state_dict.get(prefix + key)
        if got is None:
            if not (key.endswith('noise_state') and prefix + key.replace('noise_state', 'rng_state') in state_dict):
                missing.append(key)
        elif tuple(got.shape) != tuple(tensor.shape):
            mismatched.append(f'{key}: checkpoint {tuple(got.shape)}, config {tuple(tensor.shape)}')
    if missing or mismatched:
        kind = checkpoint_kind(state_dict)
        mine = method_of_head(head)
        raise ValueError(
            f'{type(head).__name__}: the checkpoint does not fit the config; it looks like {kind} given to a {mine} '
            f'config. '
            + (f'Missing: {missing[:8]}{" ..." if len(missing) > 8 else ""}. ' if missing else '')
            + (f'Other shapes (another CLIP or student?): {mismatched[:8]}. ' if mismatched else '') + hint
            + f'This config expects {expected}; use the config the checkpoint was trained with.')


def method_of_head(head) -> str:
    """The method a head's config belongs to, as its errors name it."""
    name = type(head).__name__
    return {'DependentBiasHead': 'ReCLIP (CVPR) rectification', 'BiasRectifiedHead': 'ReCLIP++ rectification',
            'RectifiedDistillHead': 'distillation (student)', 'TagCLIPHead': 'TagCLIP / ZegCLIP',
            'VPTCLIPViT': 'TagCLIP / ZegCLIP', 'MaskCLIPHead': 'training-free',
            'CLIPerHead': 'training-free'}.get(name, name)


def checkpoint_kind(state_dict) -> str:
    """What a checkpoint's decode-head keys say it is (a head is handed only its own keys): ReCLIP++ or ReCLIP (CVPR)
    rectification (their positional bias modules differ: a 1x1 projector vs a three-conv net), a distillation
    student, TagCLIP / ZegCLIP."""
    families = sorted({k.split('decode_head.', 1)[1].split('.')[0] for k in state_dict if 'decode_head.' in k})
    if 'aspp' in families:
        return 'a distillation (student) checkpoint'
    if 'relationship' in families:
        return 'a TagCLIP / ZegCLIP checkpoint'
    if 'prompt_learner' in families:
        if any('decode_head.bias_projector.conv1.' in k for k in state_dict):
            return 'a ReCLIP (CVPR) rectification checkpoint'
        return 'a ReCLIP++ rectification checkpoint'
    return f'one with decode-head weights {families}' if families else 'one without decode-head weights'
