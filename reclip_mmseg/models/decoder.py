"""Rectified mask generation (SPEC.md §4): the mask decoder and the Gumbel mask."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS


@MODELS.register_module()
class RectifiedMaskDecoder(BaseModule):
    """``Z = BN(conv_k×k([F, L_r]))``: one conv (padding k//2, bias) from D + C to C channels, then a norm layer,
    no activation. The input order is features first, rectified logits second."""

    def __init__(self, feat_channels: int, num_classes: int, kernel_size: int = 5,
                 norm_cfg: dict = dict(type='BN'), init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(feat_channels + num_classes, num_classes, kernel_size, padding=kernel_size // 2,
                              bias=True)
        self.norm = build_norm_layer(norm_cfg, num_classes)[1]

    def forward(self, features: torch.Tensor, rectified_logits: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(torch.cat([features, rectified_logits], dim=1)))


@MODELS.register_module()
class GumbelMask(BaseModule):
    """Hard Gumbel-Softmax over the class dimension of ``scale · Z`` (straight-through): forward is one-hot,
    backward is the gradient of the soft sample."""

    def __init__(self, scale: float = 100.0, tau: float = 1.0, hard: bool = True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.scale, self.tau, self.hard = scale, tau, hard

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return F.gumbel_softmax(self.scale * logits, tau=self.tau, hard=self.hard, dim=1)
