"""The shared base of the rectification heads (docs/reclip_pp.md §3–§7): ReCLIP++'s ``BiasRectifiedHead`` and
ReCLIP's ``DependentBiasHead`` differ only in the bias they subtract from the Query logits."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from ...utils.lru import GridCache
from ..checkpoint_checks import check_head_checkpoint
from ..text_head import CLIPTextHead


class RectificationHead(CLIPTextHead):
    """What ReCLIP++'s and ReCLIP's rectification heads share (docs/reclip_pp.md §3–§7, §12): the parts, the
    cached bias, the decoder, the Gumbel mask and the masked contrastive loss. A subclass says what its bias is
    (``total_bias``, ``rectified_logit_parts``); ``BiasRectifiedHead`` (ReCLIP++) and ``DependentBiasHead`` (ReCLIP).

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
    class_count_key: str = ''

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
        """The dimensions the positional bias module is built with; each method's module takes its own."""
        raise NotImplementedError

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

    def total_bias(self, features: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """The bias subtracted from ``L_q`` (broadcastable to (B, C, h, w)); each method defines its own."""
        raise NotImplementedError

    def rectified_logit_parts(self, features: torch.Tensor, pos: torch.Tensor
                              ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``L_r`` in two parts: a per-image part (B, C, h, w) and an image-independent part (1, C, h, w) or None.
        Kept apart so that the decoder convolves the shared part once per batch; each method defines its own."""
        raise NotImplementedError

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
