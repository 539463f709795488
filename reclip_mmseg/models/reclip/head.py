"""ReCLIP (CVPR 2024), the conference version of the method (docs/reclip_pp.md §12): the same frozen CLIP, Query head,
Reference prompt learner and contrastive loss, with an image-*dependent* class bias ``⟨F, R̂⟩``, a per-class
positional bias map from a small conv net on ``P``, no decoder and a sharper Gumbel mask."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS

from ..reclip_pp.decoder import init_conv_weight
from ..reclip_pp.rectification import RectificationHead


@MODELS.register_module()
class PositionalBiasNet(BaseModule):
    """ReCLIP's space-preference bias ``S = ReLU(BN(conv3(ReLU(BN(conv2(ReLU(BN(conv1(P))))))))`` (1, C, h, w) ≥ 0.

    Three 3×3 convs (padding 1, with bias) ``in → 512 → 256 → C``, each followed by a norm layer and a ReLU (the
    last ReLU included, so the map is non-negative). Convs ``kaiming_normal_(fan_out, relu)`` (release), biases
    PyTorch's default, BN γ=1, β=0. In training the BNs normalise the single positional map over its h·w
    positions; in eval they use their running statistics.
    """

    def __init__(self, in_channels: int = 768, num_classes: int = 20, hidden_channels: Sequence[int] = (512, 256),
                 norm_cfg: dict = dict(type='BN'), weight_init: str = 'kaiming_fan_out', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        widths = [in_channels, *hidden_channels, num_classes]
        self.num_layers = len(widths) - 1
        for i in range(self.num_layers):
            conv = nn.Conv2d(widths[i], widths[i + 1], 3, padding=1, bias=True)
            init_conv_weight(conv, weight_init, type(self).__name__)
            self.add_module(f'conv{i + 1}', conv)
            self.add_module(f'bn{i + 1}', build_norm_layer(norm_cfg, widths[i + 1])[1])

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        x = pos
        for i in range(1, self.num_layers + 1):
            x = torch.relu(getattr(self, f'bn{i}')(getattr(self, f'conv{i}')(x)))
        return x


@MODELS.register_module()
class DependentBiasHead(RectificationHead):
    """ReCLIP's rectification head (docs/reclip_pp.md §12): ``Z = L_q − (L_cls + S)`` with the image-dependent class bias
    ``L_cls = ⟨F, R̂⟩`` (B, C, h, w) and the positional bias map ``S = PositionalBiasNet(P)`` (1, C, h, w).

    Defaults are the conference version's: no decoder, Gumbel scale 1000, test-time prompt denoising with
    ``softmax(100·Z)`` whose suppressed logits are set to -100 (the release: an image with every class suppressed
    is predicted class 0 everywhere; ``denoise_fill=None`` keeps argmax Z instead). Giving a ``mask_decoder`` puts ReCLIP++'s decoder on ``[F, L_q − (L_cls + S)]`` (the
    paper's Table III, second and third rows). Training and loss are ``RectificationHead``'s, as ReCLIP++'s.
    """
    class_count_key = 'bias_projector.conv3.weight'

    def __init__(self,
                 class_names: Union[str, Sequence[str]] = 'voc20',
                 text_encoder: Optional[dict] = None,
                 prompt_learner: dict = dict(type='ReferencePromptLearner', num_context=73),
                 bias_projector: dict = dict(type='PositionalBiasNet'),
                 mask_decoder: Optional[dict] = None,
                 gumbel: dict = dict(type='GumbelMask', scale=1000.0, tau=1.0),
                 denoise_temperature: float = 100.0,
                 denoise_fill: Optional[float] = -100.0,
                 **kwargs):
        super().__init__(class_names=class_names, text_encoder=text_encoder, prompt_learner=prompt_learner,
                         bias_projector=bias_projector, mask_decoder=mask_decoder, gumbel=gumbel,
                         denoise_temperature=denoise_temperature, denoise_fill=denoise_fill, **kwargs)
        if getattr(self.bias_projector, 'num_layers', 3) != 3:
            raise ValueError('DependentBiasHead: the checkpoint layout assumes a three-conv PositionalBiasNet')

    def bias_projector_args(self) -> dict:
        return dict(in_channels=self.visual_width, num_classes=self.num_classes)

    def reference_and_space_bias(self, pos: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(R̂ (C, D), S (1, C, h, w))``: both image-independent, so cached per grid in eval mode."""
        return self._cached((tuple(pos.shape[-2:]), pos.device, pos.dtype),
                            lambda: (self.prompt_learner(), self.bias_projector(pos)))

    def total_bias(self, features: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """``L_cls + S`` (B, C, h, w): the bias subtracted from ``L_q``, per image."""
        reference, space = self.reference_and_space_bias(pos)
        return torch.einsum('bdhw,cd->bchw', features, reference.to(features.dtype)) + space

    def rectified_logit_parts(self, features: torch.Tensor, pos: torch.Tensor
                              ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Per image ``L_q ∓ L_cls`` (B, C, h, w) and the shared ``∓S`` (1, C, h, w)."""
        query = self.query_logits(features)
        if self.bias_mode == 'none':
            return query, None
        reference, space = self.reference_and_space_bias(pos)
        class_bias = torch.einsum('bdhw,cd->bchw', features, reference.to(features.dtype))
        if self.bias_mode == 'subtract':
            return query - class_bias, -space
        return query + class_bias, space
