"""Loading the frozen CLIP once per process, from open_clip, a local file, or the untrained tiny test model.

Frozen CLIP never enters a checkpoint or an optimiser: modules that use it hold it outside their module tree
(``FrozenCLIPModule``) and rebuild it from its weight source when a checkpoint is loaded.
"""
import logging
import os
import socket
import zipfile
from urllib.parse import urlparse
from pathlib import Path
from typing import Dict, Optional, Tuple

import open_clip
import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule

TINY_MODEL_NAME = 'reclip-tiny'
# 12 vision blocks as ViT-B (SC-CLIP / SFP need its block indices), still tiny; untrained like reclip-tiny.
TINY_DEEP_MODEL_NAME = 'reclip-tiny-deep'
TINY_MODEL_NAMES = (TINY_MODEL_NAME, TINY_DEEP_MODEL_NAME)
TINY_SEED = 0

# Registers the tiny architecture (model_configs/reclip-tiny.json) with open_clip once, at import.
open_clip.add_model_config(Path(__file__).parent / 'model_configs')

_LOADED: Dict[Tuple, Tuple[torch.nn.Module, str]] = {}


class CLIPWeightsUnavailable(RuntimeError):
    """CLIP weights could not be obtained (typically: offline and not in open_clip's cache)."""


def _how_to_provide(model_name: str) -> str:
    return (f"Ways to provide weights for '{model_name}': (1) run once with internet access so open_clip caches "
            f"pretrained='openai' (or set clip.cache_dir to a folder that already holds them); (2) set "
            f"clip.pretrained to a local file: the OpenAI archive (e.g. ViT-B-16.pt from the openai/CLIP release) "
            f"or an open_clip state dict (.pt/.bin/.safetensors); (3) for an offline smoke test only, use "
            f"clip.model_name='{TINY_MODEL_NAME}' with clip.pretrained=None (an untrained tiny CLIP).")


def weights_in_cache(model_name: str, pretrained: str, cache_dir: Optional[str] = None) -> bool:
    """Whether open_clip would find the weights of a pretrained tag without downloading (Hugging Face hub cache or
    the URL download folder). True when the tag is unknown to open_clip (its own error then explains)."""
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not cfg or 'file' in cfg:
        return True
    if cfg.get('hf_hub'):
        from huggingface_hub import try_to_load_from_cache
        model_id, filename = os.path.split(cfg['hf_hub'])
        filename = filename or 'open_clip_pytorch_model.bin'
        names = {filename, filename.replace('.bin', '.safetensors'), 'open_clip_model.safetensors'}
        if any(isinstance(try_to_load_from_cache(model_id, n, cache_dir=cache_dir), str) for n in names):
            return True
    if cfg.get('url'):
        folder = cache_dir or os.path.expanduser('~/.cache/clip')
        if os.path.isfile(os.path.join(folder, os.path.basename(cfg['url']))):
            return True
    return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connection to the Hugging Face endpoint (``HF_ENDPOINT``, default huggingface.co); False at once when
    ``HF_HUB_OFFLINE`` is set. Spares an offline user open_clip's minute of download retries."""
    if os.environ.get('HF_HUB_OFFLINE', '').lower() in ('1', 'true', 'yes', 'on'):
        return False
    url = urlparse(os.environ.get('HF_ENDPOINT', 'https://huggingface.co'))
    try:
        with socket.create_connection((url.hostname, url.port or (443 if url.scheme == 'https' else 80)), timeout):
            return True
    except OSError:
        return False


def clip_vit_dims(model_name: str) -> Dict[str, int]:
    """``embed_dim`` (joint image-text space), ``width`` (vision tower) and ``positions`` (length of the
    positional embedding, class token included) of an open_clip ViT architecture, read from its model config:
    no weights are loaded. Raises ``ValueError`` naming the architecture when it is unknown or not a ViT."""
    cfg = open_clip.get_model_config(model_name)
    if cfg is None:
        raise ValueError(f"clip.model_name='{model_name}' is not an open_clip architecture (known ones: "
                         f'open_clip.list_models())')
    vision = cfg.get('vision_cfg', {})
    if not isinstance(vision.get('layers'), int) or not vision.get('patch_size') or 'width' not in vision:
        raise ValueError(f"clip.model_name='{model_name}' is not a ViT CLIP (vision_cfg {vision}); the plugin's "
                         f'dense heads need a ViT image tower')
    size = vision['image_size']
    h, w = (size, size) if isinstance(size, int) else size
    return dict(embed_dim=int(cfg['embed_dim']), width=int(vision['width']),
                positions=(h // vision['patch_size']) * (w // vision['patch_size']) + 1)


def _weights_id(model_name: str, pretrained: Optional[str], quick_gelu: bool) -> str:
    """A string that changes whenever the weights may change (used to key on-disk caches)."""
    if pretrained is None:
        return f'{model_name}:random-init-seed{TINY_SEED}'
    if os.path.isfile(pretrained):
        st = os.stat(pretrained)
        return f'{model_name}:file:{os.path.abspath(pretrained)}:{st.st_size}:{st.st_mtime_ns}:qg{int(quick_gelu)}'
    return f'{model_name}:{pretrained}:qg{int(quick_gelu)}'


PRECISIONS = ('fp32', 'fp16', 'auto')


def resolve_precision(precision: str) -> str:
    """'fp32' or 'fp16' for a ``clip.precision`` value: 'auto' is 'fp16' when torch sees a CUDA device, else
    'fp32', as the training-free releases get from OpenAI's ``clip.load(name, device)`` with device = CUDA when
    there is one (docs/training_free.md §6.4)."""
    if precision not in PRECISIONS:
        raise ValueError(f'clip.precision must be one of {PRECISIONS}, got {precision!r}')
    if precision == 'auto':
        return 'fp16' if torch.cuda.is_available() else 'fp32'
    return precision


def to_release_fp16(model: torch.nn.Module) -> torch.nn.Module:
    """OpenAI's half-precision CLIP (what ``clip.load`` builds on CUDA; docs/training_free.md §6.4), in place:
    the weights and biases of every convolution, linear layer and attention in float16, with the image and text
    projections (open_clip's ``convert_weights_to_lp``, the same list as OpenAI's ``convert_weights``); every
    LayerNorm keeps float32 weights and computes in float32, returning the input's dtype (OpenAI's ``LayerNorm``
    subclass; open_clip's ``LayerNormFp32``); the embeddings (token, class, positional) stay float32 and are cast
    to float16 where they are added, as OpenAI's forward does."""
    from open_clip.model import convert_weights_to_lp
    from open_clip.transformer import LayerNormFp32
    convert_weights_to_lp(model, dtype=torch.float16)
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.float()
            module.__class__ = LayerNormFp32
    return model


def load_clip(model_name: str = 'ViT-B-16',
              pretrained: Optional[str] = 'openai',
              quick_gelu: bool = True,
              cache_dir: Optional[str] = None,
              allow_random_weights: bool = False,
              precision: str = 'fp32') -> Tuple[torch.nn.Module, str]:
    """Return ``(frozen open_clip model in eval mode, weights id)``, loading it at most once per process.

    Args:
        model_name: an open_clip architecture ('ViT-B-16') or 'reclip-tiny'.
        pretrained: an open_clip tag ('openai'), a local file (OpenAI TorchScript archive or state dict),
            or None for random weights, which is allowed for the tiny test model or with
            ``allow_random_weights=True`` (timing only); it is announced loudly in the log.
        quick_gelu: OpenAI's CLIP was trained with QuickGELU; keep True for its weights.
        precision: 'fp32' (default), 'fp16' (OpenAI's half-precision CLIP, ``to_release_fp16``: what the
            training-free releases run on CUDA) or 'auto' (fp16 when torch sees a CUDA device, else fp32, as those
            releases; the authors' presets). Part of the weights id, so caches of the two never mix.
    """
    if pretrained is not None and not isinstance(pretrained, str):
        raise TypeError(f'clip.pretrained must be a tag, a file path or None, got {pretrained!r}')
    if pretrained is None and model_name not in TINY_MODEL_NAMES and not allow_random_weights:
        raise CLIPWeightsUnavailable(
            f"clip.pretrained=None would give '{model_name}' random weights, which never segment anything. "
            + _how_to_provide(model_name) + ' (Set clip.allow_random_weights=True only to time the model.)')
    requested, precision = precision, resolve_precision(precision)
    key = (model_name, pretrained, bool(quick_gelu), cache_dir, precision)
    if key in _LOADED:
        return _LOADED[key]
    if requested == 'auto':
        print_log(f"clip.precision='auto': {precision} ({'torch sees a CUDA device' if precision == 'fp16' else 'no CUDA device'}"
                  f"), as the training-free releases' clip.load", logger='current')

    if pretrained is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = open_clip.create_model(model_name, pretrained=None, force_quick_gelu=quick_gelu)
        print_log(f"CLIP '{model_name}' has RANDOM, UNTRAINED weights (seed {TINY_SEED}): its predictions are "
                  f'meaningless; use it for tests, timing and the offline demo only.',
                  logger='current', level=logging.WARNING)
    elif os.path.isfile(pretrained):
        model = open_clip.create_model(model_name, pretrained=None, force_quick_gelu=quick_gelu)
        state = read_clip_state_dict(pretrained)
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as err:  # shape mismatches
            raise CLIPWeightsUnavailable(f"CLIP weights file {pretrained} does not fit architecture '{model_name}' "
                                         f"({str(err)[:400]}). Set clip.model_name to the file's architecture.")
        if missing or unexpected:
            raise CLIPWeightsUnavailable(
                f"CLIP weights file {pretrained} does not fit architecture '{model_name}': missing keys "
                f"{missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected keys {unexpected[:5]}"
                f"{'...' if len(unexpected) > 5 else ''}. Set clip.model_name to the file's architecture.")
        print_log(f"Loaded CLIP '{model_name}' weights from file {os.path.abspath(pretrained)}.", logger='current')
    else:
        if os.sep in pretrained or pretrained.endswith(('.pt', '.pth', '.bin', '.safetensors')):
            raise CLIPWeightsUnavailable(f"clip.pretrained='{pretrained}': no such file. " + _how_to_provide(model_name))
        if not weights_in_cache(model_name, pretrained, cache_dir) and not hub_reachable():
            raise CLIPWeightsUnavailable(
                f"CLIP '{model_name}' weights (pretrained='{pretrained}') are not in open_clip's cache"
                f"{f' ({cache_dir})' if cache_dir else ''} and the Hugging Face hub is unreachable (offline?). "
                + _how_to_provide(model_name))
        try:
            model = open_clip.create_model(model_name, pretrained=pretrained, force_quick_gelu=quick_gelu,
                                           cache_dir=cache_dir)
        except Exception as err:  # noqa: BLE001 - open_clip raises RuntimeError/OSError/hub errors alike
            raise CLIPWeightsUnavailable(
                f"Could not load CLIP '{model_name}' with pretrained='{pretrained}': {type(err).__name__}: {err}. "
                + _how_to_provide(model_name)) from err
        print_log(f"Loaded CLIP '{model_name}' weights from open_clip tag {pretrained!r}.", logger='current')
    weights_id = _weights_id(model_name, pretrained, quick_gelu)
    if precision == 'fp16':
        to_release_fp16(model)
        weights_id += ':fp16'
        print_log(f"CLIP '{model_name}' in half precision (clip.precision): float16 weights and activations, "
                  f'LayerNorm in float32, as OpenAI\'s clip.load on CUDA', logger='current')
    model.requires_grad_(False).eval()
    _LOADED[key] = (model, weights_id)
    return _LOADED[key]


def read_clip_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """State dict of a local CLIP weights file: OpenAI's TorchScript archive (read with ``torch.jit.load``,
    which open_clip's loader refuses on torch >= 2.6), a safetensors file, or a ``torch.save``d state dict
    (loaded with ``weights_only=True``; wrapped in 'state_dict'/'model' and 'module.' prefixes are accepted)."""
    try:
        if path.endswith('.safetensors'):
            from safetensors.torch import load_file
            state = load_file(path)
        elif zipfile.is_zipfile(path) and any(n.endswith('constants.pkl') for n in zipfile.ZipFile(path).namelist()):
            state = torch.jit.load(path, map_location='cpu').state_dict()
        else:
            state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise CLIPWeightsUnavailable(f'cannot read CLIP weights file {path}: {type(err).__name__}: {err}') from err
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise CLIPWeightsUnavailable(f'CLIP weights file {path} holds a {type(state).__name__}, not a state dict')
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    for key in ('input_resolution', 'context_length', 'vocab_size', 'attn_mask'):  # archive extras, not weights
        state.pop(key, None)
    return state


class FrozenCLIPModule(BaseModule):
    """Base of modules that use the frozen CLIP.

    The CLIP model is stored outside the module tree: it is in no ``state_dict`` (checkpoints stay small),
    in no ``parameters()`` (optimisers and DDP never see it), and never re-initialised, yet ``.to()``,
    ``.cuda()``, ``.half()`` reach it and ``train()`` never takes it out of eval mode.
    """

    def __init__(self, clip: Optional[dict] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.clip_cfg = dict(model_name='ViT-B-16', pretrained='openai') if clip is None else dict(clip)
        model, self.weights_id = load_clip(**self.clip_cfg)
        self.__dict__['_clip_model'] = model  # bypasses nn.Module registration on purpose

    @property
    def clip_model(self) -> torch.nn.Module:
        return self.__dict__['_clip_model']

    def _apply(self, fn, *args, **kwargs):
        self.clip_model._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def train(self, mode: bool = True):
        super().train(mode)
        self.clip_model.eval()
        return self
