"""ReCLIP++'s rectification head (docs/reclip_pp.md §3–§7): ``Z = decoder([F, L_q − L_b])`` with the
image-independent bias ``L_b = proj(P) · R̂ᵀ``."""
from typing import Optional, Tuple

import torch
from mmseg.registry import MODELS

from .bias import bias_logits
from .rectification import RectificationHead


@MODELS.register_module()
class BiasRectifiedHead(RectificationHead):
    """ReCLIP++ rectification head.

    ``Z = decoder([F, L_q − L_b])`` with ``L_b = proj(P) · R̂ᵀ``; training: ``G = GumbelMask(Z)`` and the masked
    contrastive loss against each image's hypothesis (``image_level_labels`` in the sample's metainfo, put
    there by ``LoadImageLevelLabels``); inference: ``Z`` (optionally prompt-denoised), argmax by MMSeg.
    Reference features and bias logits are computed once per pass in training and cached per grid size
    in eval mode. Arguments: ``RectificationHead``'s.
    """
    class_count_key = 'mask_decoder.conv.weight'

    def bias_projector_args(self) -> dict:
        return dict(in_channels=self.visual_width, out_channels=self.embed_dim)

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
