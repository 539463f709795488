"""What each dense mode takes from the CLIP's architecture: its per-depth constants (block indices, class-token
weight), chosen by the number of vision blocks, and the patch-size-dependent ones (NACLIP's σ is in patches), with
where each comes from (docs/training_free.md §8). ``CLIPViT`` logs one line from this per build.

The tables themselves live with each mode (``self_calibration.CONSTANTS_BY_DEPTH``,
``resclip.RCS_BLOCKS_BY_DEPTH``, ``GEM_BLOCKS_BY_DEPTH`` below); this module only reads them. A depth without
published constants is refused by the mode that needs them (SC-CLIP, SFP; ResCLIP unless
``model.backbone.resclip.rcs_blocks`` is set), never given ViT-B's indices silently.
"""
from typing import Optional, Tuple

from . import resclip as resclip_mode
from .self_calibration import CONSTANTS_BY_DEPTH, constants_for_depth

# GEM's library default gem_depth=7 (the last 6 blocks) is the same for every architecture it loads
# (WalBouss/GEM@5fa677c:gem/gem.py:91-98): relative to the end, so no per-depth index changes.
GEM_BLOCKS_BY_DEPTH = {12: 6, 24: 6}
SELF_CALIBRATION_SOURCES = {12: "SC-CLIP release's 12-block (ViT-B/16) constants, SFP's alike; no ViT-B/32 values "
                                "published",
                            24: "SC-CLIP release's ViT-L/14 constants; no SFP ViT-L values read: SC-CLIP's"}
LAST_BLOCK_ONLY = ('maskclip', 'vanilla', 'sclip', 'clearclip')


def _span(blocks) -> str:
    blocks = tuple(blocks)
    if len(blocks) > 2 and blocks == tuple(range(blocks[0], blocks[-1] + 1)):
        return f'{blocks[0]}-{blocks[-1]}'
    return ','.join(str(b) for b in blocks)


def mode_constants(mode: str, depth: int, patch_size: int = 16, naclip_sigma: float = 5.0,
                   resclip: Optional[dict] = None, cliper: Optional[dict] = None,
                   gem: Optional[dict] = None) -> Tuple[dict, str]:
    """(the constants ``mode`` uses on a ViT of ``depth`` blocks and ``patch_size``-pixel patches, their source).
    Blocks are 1-indexed as the papers count them. Raises ``ValueError`` (naming the mode, the depth and the key to
    set, where there is one) when the mode has no constants for this depth."""
    if mode in LAST_BLOCK_ONLY:
        return dict(blocks=f'last ({depth})'), 'no per-depth constants: the last block only'
    if mode == 'naclip':
        return (dict(blocks=f'last ({depth})', sigma_patches=naclip_sigma,
                     sigma_pixels=naclip_sigma * patch_size),
                "NACLIP's σ = 5 patches (model.backbone.naclip_sigma), in patches whatever the patch size, as the "
                "release applies it")
    if mode in ('sc_clip', 'sfp'):
        pre, post, multi, cls_weight = constants_for_depth(depth, mode)
        return (dict(pre=pre, post=post, multi=_span(multi), cls_weight=cls_weight),
                SELF_CALIBRATION_SOURCES[depth])
    if mode == 'resclip':
        settings = {**resclip_mode.DEFAULTS, **(resclip or {})}
        blocks = resclip_mode.rcs_blocks(depth, settings)
        source = ('model.backbone.resclip.rcs_blocks' if settings.get('rcs_blocks') is not None
                  else resclip_mode.RCS_SOURCES[depth])
        return (dict(rcs_blocks=_span(blocks), sigma_patches=settings['sigma'],
                     sigma_pixels=settings['sigma'] * patch_size, patch_labels=f'{patch_size}x{patch_size} px'),
                source)
    if mode == 'cliper':
        settings = dict(cliper or {})
        out = dict(fused_blocks=f'1-{depth - 1}', layers=depth)
        out.update({k: settings[k] for k in ('logit_scale', 'attention_thr') if k in settings})
        return out, ('no per-depth constants: every earlier block is fused; logit_scale / attention_thr are per '
                     'dataset (the release sets other logit scales for ViT-L/14: docs/training_free.md §8)')
    if mode == 'gem':
        n = (gem or {}).get('blocks', GEM_BLOCKS_BY_DEPTH.get(depth, 6))  # the setting always wins
        source = ("GEM's library default, the last 6 blocks for every architecture" if n == 6
                  else 'model.backbone.gem.blocks')
        return dict(blocks=f'{depth - n + 1}-{depth}', last_n=n), source
    raise ValueError(f'unknown dense mode {mode!r}')


def describe(mode: str, model_name: str, depth: int, patch_size: int, heads: int, **settings) -> str:
    """The log line of one ``CLIPViT`` build: architecture, the mode's constants and their source."""
    constants, source = mode_constants(mode, depth, patch_size, **settings)
    shown = ', '.join(f'{k}={v}' for k, v in constants.items())
    return (f"CLIPViT dense_mode={mode!r} on '{model_name}' ({depth} blocks, {patch_size}-px patches, {heads} heads): "
            f'{shown} [{source}]')


__all__ = ['CONSTANTS_BY_DEPTH', 'GEM_BLOCKS_BY_DEPTH', 'mode_constants', 'describe']
