"""Decode heads over ``CLIPViT`` features: the training-free MaskCLIP Query head and ReCLIP++'s
``BiasRectifiedHead`` (SPEC.md §2–7)."""
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from ..clip.vocabularies import resolve_class_names
from ..utils.lru import GridCache
from .bias import bias_logits


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
            'VPTCLIPViT': 'TagCLIP / ZegCLIP', 'MaskCLIPHead': 'training-free'}.get(name, name)


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


class _CLIPTextHead(BaseDecodeHead):
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
        self.register_buffer('query_embeds', encoder.class_embeddings(names), persistent=False)

    def _features(self, inputs):
        return inputs.dense if hasattr(inputs, 'dense') else inputs[0]

    def current_query_embeds(self) -> torch.Tensor:
        """``T_q`` (C, D): the fixed template ensemble (a head with a learnable Query overrides this)."""
        return self.query_embeds

    def query_logits(self, features: torch.Tensor) -> torch.Tensor:
        """``L_q = ⟨F, T_q⟩`` per pixel, plain cosine (both unit-norm), no scale."""
        return torch.einsum('bdhw,cd->bchw', features, self.current_query_embeds().to(features.dtype))

    def predict_by_feat(self, seg_logits: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        seg_logits = prompt_denoise(seg_logits, self.denoise_threshold, self.denoise_temperature, self.denoise_fill)
        # Channels-last logits: MMSeg's post-processing then takes its argmax over the class dimension along
        # contiguous memory (7x faster on CPU at 20 classes; ~5% of the backbone's time otherwise).
        return super().predict_by_feat(seg_logits.contiguous(memory_format=torch.channels_last), batch_img_metas)


@MODELS.register_module()
class MaskCLIPHead(_CLIPTextHead):
    """Training-free MaskCLIP baseline: the Query logits ``L_q`` are the segmentation logits."""

    def forward(self, inputs):
        return self.query_logits(self._features(inputs))

    def loss(self, inputs, batch_data_samples: SampleList, train_cfg) -> dict:
        raise RuntimeError('MaskCLIPHead is training-free: evaluate it with tools/test.py CONFIG (no checkpoint).')


@MODELS.register_module()
class BiasRectifiedHead(_CLIPTextHead):
    """ReCLIP++ rectification head.

    ``Z = decoder([F, L_q − L_b])`` with ``L_b = proj(P) · R̂ᵀ``; training: ``G = GumbelMask(Z)`` and the masked
    contrastive loss against each image's hypothesis (``image_level_labels`` in the sample's metainfo, put
    there by ``LoadImageLevelLabels``); inference: ``Z`` (optionally prompt-denoised), argmax by MMSeg.
    Reference features and bias logits are computed once per pass in training and cached per grid size
    in eval mode.

    Args:
        prompt_learner / bias_projector / mask_decoder / gumbel: configs of the parts (dims are filled in).
            ``mask_decoder=None``: no decoder, ``Z = L_r`` (the paper's Table III first row).
        bias_mode: 'subtract' (paper), 'add' (ablation) or 'none' (no bias: L_r = L_q).
        query_learner: None (paper: the fixed Query ``T_q`` of the template ensemble) or a prompt learner config
            whose per-class normalised output replaces ``T_q`` and is trained (Table IV's "learnable Query").
        loss_decode: ``MaskedContrastiveLoss`` config.
    """
    # The checkpoint tensor whose first dimension is the class count (checked when a checkpoint is loaded).
    class_count_key = 'mask_decoder.conv.weight'

    def __init__(self,
                 class_names: Union[str, Sequence[str]] = 'voc20',
                 text_encoder: Optional[dict] = None,
                 prompt_learner: dict = dict(type='ReferencePromptLearner', num_context=73),
                 bias_projector: dict = dict(type='PositionalBiasProjector'),
                 mask_decoder: Optional[dict] = dict(type='RectifiedMaskDecoder', kernel_size=5),
                 gumbel: dict = dict(type='GumbelMask', scale=100.0, tau=1.0),
                 bias_mode: str = 'subtract',
                 query_learner: Optional[dict] = None,
                 loss_decode: dict = dict(type='MaskedContrastiveLoss', logit_scale=100.0, loss_weight=1.0),
                 **kwargs):
        super().__init__(class_names=class_names, text_encoder=text_encoder, loss_decode=loss_decode, **kwargs)
        if bias_mode not in ('subtract', 'add', 'none'):
            raise ValueError(f"{type(self).__name__}.bias_mode must be 'subtract', 'add' or 'none', got {bias_mode!r}")
        self.bias_mode = bias_mode
        self.visual_width = self.text_encoder.clip_model.visual.conv1.out_channels
        self.prompt_learner = MODELS.build(prompt_learner, default_args=dict(
            text_encoder=self.text_encoder, class_names=self.class_names))
        self.bias_projector = MODELS.build(bias_projector, default_args=self.bias_projector_args())
        self.mask_decoder = None if mask_decoder is None else MODELS.build(mask_decoder, default_args=dict(
            feat_channels=self.embed_dim, num_classes=self.num_classes))
        self.query_learner = None if query_learner is None else MODELS.build(query_learner, default_args=dict(
            text_encoder=self.text_encoder, class_names=self.class_names))
        self.gumbel = MODELS.build(gumbel)
        self._bias_cache = GridCache()

    def bias_projector_args(self) -> dict:
        return dict(in_channels=self.visual_width, out_channels=self.embed_dim)

    def _needs_grad(self) -> bool:
        """True while gradients must flow to the trainable parts (training, or eval with grad enabled)."""
        return self.training or (torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()))

    def _cached(self, key, make):
        """``make()`` once per key in eval mode without gradients; recomputed (and the cache dropped) otherwise."""
        if self._needs_grad():
            self._bias_cache.clear()
            return make()
        return self._bias_cache.get(key, lambda: _detach(make()))

    # ------------------------------------------------------------------ the rectified forward pass
    def current_query_embeds(self) -> torch.Tensor:
        """``T_q`` (C, D): the fixed template ensemble, or the learnable Query's per-class normalised output."""
        if self.query_learner is None:
            return self.query_embeds
        return self._cached(('query',), lambda: F.normalize(self.query_learner().float(), dim=-1))

    def compute_bias_logits(self, pos: torch.Tensor) -> torch.Tensor:
        """``L_b`` (1, C, h, w) for the positional map ``pos`` (1, W, h, w); cached per grid in eval mode."""
        return self._cached((tuple(pos.shape[-2:]), pos.device, pos.dtype),
                            lambda: bias_logits(self.bias_projector(pos), self.prompt_learner()))

    def total_bias(self, features: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """The bias that is subtracted from ``L_q``: ``L_b`` (1, C, h, w), the same for every image."""
        return self.compute_bias_logits(pos)

    def rectified_logit_parts(self, features: torch.Tensor, pos: torch.Tensor
                              ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``L_r`` in two parts: per image ``L_q`` (B, C, h, w) and image-independent ``∓L_b`` (1, C, h, w), None
        with ``bias_mode='none'``. Kept apart so that the decoder convolves the shared part once per batch."""
        query = self.query_logits(features)
        if self.bias_mode == 'none':
            return query, None
        bias = self.compute_bias_logits(pos)
        return query, (-bias if self.bias_mode == 'subtract' else bias)

    def rectified_logits(self, features: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """``L_r = L_q − L_b`` (B, C, h, w) (``+`` or no bias for the ablations)."""
        query, shared = self.rectified_logit_parts(features, pos)
        return query if shared is None else query + shared

    def decode(self, features: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """``Z``: the mask decoder over ``[F, L_r]``, or ``L_r`` itself when the head has no decoder."""
        if self.mask_decoder is None:
            return self.rectified_logits(features, pos)
        return self.mask_decoder(features, *self.rectified_logit_parts(features, pos))

    def forward(self, inputs):
        return self.decode(self._features(inputs), inputs.pos)

    # ------------------------------------------------------------------------------------ training
    @staticmethod
    def image_level_labels(data_sample) -> torch.Tensor:
        labels = data_sample.metainfo.get('image_level_labels')
        if labels is None:
            raise KeyError(
                f"BiasRectifiedHead needs each training sample's image-level hypothesis, but sample "
                f"{data_sample.metainfo.get('img_path', '?')} has no 'image_level_labels' in its metainfo. Create "
                f"the hypotheses with `python tools/gen_hypotheses.py CONFIG`, put "
                f"dict(type='LoadImageLevelLabels', hypothesis_file=...) in the train pipeline and "
                f"'image_level_labels' in PackSegInputs' meta_keys (configs/_base_ does both).")
        return torch.as_tensor(labels, dtype=torch.long)

    def loss(self, inputs, batch_data_samples: SampleList, train_cfg) -> dict:
        features = self._features(inputs)
        B, _, h, w = features.shape
        if self.training and B * h * w == 1:
            raise ValueError(f'{type(self).__name__}: a training batch of {B} image(s) with a {h}x{w} feature grid '
                             f"gives the BatchNorm a single value per channel; use crops of at least 32 px or "
                             f'a larger batch (image: {batch_data_samples[0].metainfo.get("img_path", "?")})')
        masks = self.gumbel(self.decode(features, inputs.pos))
        labels = [self.image_level_labels(ds) for ds in batch_data_samples]
        loss = self.loss_decode(features, masks, self.current_query_embeds(), labels)
        return {self.loss_decode.loss_name: loss}

    def train(self, mode: bool = True):
        self._bias_cache.clear()
        return super().train(mode)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self._bias_cache.clear()
        check_head_checkpoint(self, state_dict, prefix, self.class_count_key,
                              'a rectification checkpoint (tools/train.py configs/reclip_pp/*_rectify.py or '
                              'configs/reclip/*_rectify.py)')
        return super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _detach(value):
    return tuple(v.detach() for v in value) if isinstance(value, tuple) else value.detach()
