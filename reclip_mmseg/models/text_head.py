"""The public base of every decode head that classifies by CLIP text embeddings (``CLIPTextHead``): the class
names, the frozen text tower, the Query embeddings ``T_q`` and MaskCLIP's prompt denoising (docs/reclip_pp.md §2,
§7). MaskCLIP, ReCLIP++, ReCLIP and TagCLIP heads derive from it; a user's own head can too."""
import warnings
from typing import List, Optional, Sequence, Union

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from ..clip.loader import FrozenCLIPModule
from ..clip.vocabularies import resolve_class_names


def prompt_denoise(logits: torch.Tensor, threshold: float, temperature: float = 10.0,
                   fill: Optional[float] = None) -> torch.Tensor:
    """MaskCLIP's prompt denoising: with ``p = softmax(temperature · logits)`` over classes, a class whose maximum
    over the image's pixels is below ``threshold`` is suppressed. ``fill=None``: its logits minus 1e4, so the order
    among suppressed classes survives when every class is suppressed (argmax Z). ``fill=v``: its logits set to
    ``v`` (ReCLIP's release: -100, so an image whose classes are all suppressed is class 0 everywhere). Off when
    ``threshold <= 0``."""
    if threshold <= 0:
        return logits
    prob_max = torch.softmax(temperature * logits, dim=1).amax(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    suppressed = prob_max < threshold
    if fill is None:
        return logits - 1e4 * suppressed.to(logits.dtype)
    return torch.where(suppressed, torch.full_like(logits, fill), logits)


def _text_encoder_cfg(cfg: Optional[dict], owner: str) -> dict:
    """The text encoder's config; the plugin's old name ``CLIPTextEncoder`` (MMSeg's own class, SAN's, in the
    registry) is read as ``OpenCLIPTextEncoder`` with a deprecation warning: MMSeg's class has no CLIP tower
    these heads could use, so a config written for an older version of the plugin can only have meant ours."""
    cfg = dict(cfg or dict(type='OpenCLIPTextEncoder'))
    if cfg.get('type') == 'CLIPTextEncoder':
        warnings.warn(f"{owner}: text_encoder type 'CLIPTextEncoder' is MMSeg's (SAN's) text encoder; the plugin's is "
                      f"now 'OpenCLIPTextEncoder'. Using it; change the config's type to silence this warning.",
                      DeprecationWarning, stacklevel=3)
        cfg['type'] = 'OpenCLIPTextEncoder'
    return cfg


class CLIPTextHead(BaseDecodeHead):
    """Shared by the heads: the class names, the frozen text encoder and the Query embeddings ``T_q``."""

    def __init__(self, class_names: Union[str, Sequence[str]] = 'voc20',
                 text_encoder: Optional[dict] = None,
                 denoise_threshold: float = 0.0,
                 denoise_temperature: float = 10.0,
                 denoise_fill: Optional[float] = None,
                 **kwargs):
        names = resolve_class_names(class_names)
        if len(names) < 2:  # MMSeg would switch to binary (sigmoid-threshold) segmentation
            raise ValueError(f'{type(self).__name__} needs at least 2 class names, got {list(names)}')
        encoder = MODELS.build(_text_encoder_cfg(text_encoder, type(self).__name__))
        embed_dim = encoder.embed_dim
        kwargs.setdefault('in_channels', embed_dim)
        kwargs.setdefault('channels', embed_dim)
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs.setdefault('init_cfg', None)
        num_classes = kwargs.pop('num_classes', len(names))
        if num_classes != len(names):
            raise ValueError(f'{type(self).__name__}: num_classes={num_classes} but class_names has {len(names)} '
                             f'names; leave num_classes out (it follows class_names)')
        super().__init__(num_classes=num_classes, **kwargs)
        del self.conv_seg  # the heads classify by text embeddings, never by a 1×1 conv
        self.class_names = names
        self.text_encoder = encoder
        self.embed_dim = embed_dim
        self.denoise_threshold = denoise_threshold
        self.denoise_temperature = denoise_temperature
        self.denoise_fill = denoise_fill
        # Not persistent: rebuilt from the text encoder (disk cache) rather than stored in checkpoints.
        self.register_buffer('query_embeds', self.build_query_embeds(encoder, names), persistent=False)

    def build_query_embeds(self, encoder, names) -> torch.Tensor:
        """``T_q`` at build time: one prompt-ensemble embedding per class (a head with several text queries per
        class, ``MaskCLIPHead(name_file=...)``, overrides this)."""
        return encoder.class_embeddings(names)

    def _features(self, inputs):
        if getattr(inputs, 'scores', None) is not None:
            raise ValueError(f"{type(self).__name__} got class scores made inside the image tower (dense_mode='cliper' "
                             f"fuses its layers at the class level): only MaskCLIPHead uses them; this head would "
                             f"ignore them and read a single layer's feature")
        return inputs.dense if hasattr(inputs, 'dense') else inputs[0]

    def current_query_embeds(self) -> torch.Tensor:
        """``T_q`` (C, D): the fixed template ensemble (a head with a learnable Query overrides this)."""
        return self.query_embeds

    def query_logits(self, features: torch.Tensor) -> torch.Tensor:
        """``L_q = ⟨F, T_q⟩`` per pixel, plain cosine (both unit-norm), no scale."""
        return torch.einsum('bdhw,cd->bchw', features, self.current_query_embeds().to(features.dtype))

    def denoise_logits(self, seg_logits: torch.Tensor) -> torch.Tensor:
        """The test-time step on the feature grid that couples the classes (prompt denoising), before any resize.
        Channels-last logits: MMSeg's post-processing then takes its argmax over the class dimension along
        contiguous memory (7x faster on CPU at 20 classes; ~5% of the backbone's time otherwise)."""
        seg_logits = prompt_denoise(seg_logits, self.denoise_threshold, self.denoise_temperature, self.denoise_fill)
        return seg_logits.contiguous(memory_format=torch.channels_last)

    def predict_by_feat(self, seg_logits: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        # CLIPSegmentor's class-chunked path runs these two steps itself (models/class_chunks.py): keep them two
        return super().predict_by_feat(self.denoise_logits(seg_logits), batch_img_metas)


_CLIPTextHead = CLIPTextHead  # the name before it was public


def check_same_clip(model) -> None:
    """Refuse a segmentor whose image tower (``backbone``) and whose head's text tower (``decode_head.text_encoder``)
    are different CLIPs: the head would compare image features and text embeddings from two embedding spaces and
    print a meaningless mIoU. Called when the plugin's segmentors and tools build a model."""
    backbone = getattr(model, 'backbone', None)
    encoder = getattr(getattr(model, 'decode_head', None), 'text_encoder', None)
    if not (isinstance(backbone, FrozenCLIPModule) and isinstance(encoder, FrozenCLIPModule)):
        return
    if backbone.weights_id != encoder.weights_id:
        raise ValueError(
            f'{type(backbone).__name__} (model.backbone.clip={backbone.clip_cfg}) and the text tower of '
            f'{type(model.decode_head).__name__} (model.decode_head.text_encoder.clip={encoder.clip_cfg}) name '
            f'different CLIPs ({backbone.weights_id} vs {encoder.weights_id}); give both the same clip settings.')

