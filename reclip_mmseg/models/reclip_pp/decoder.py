"""Rectified mask generation (docs/reclip_pp.md §4): the mask decoder and the Gumbel mask."""
import warnings
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS


CONV_WEIGHT_INITS = ('kaiming_fan_out', 'pytorch')


def init_conv_weight(conv: nn.Conv2d, weight_init: str, owner: str) -> None:
    """'kaiming_fan_out': ``kaiming_normal_(mode='fan_out', nonlinearity='relu')``, std sqrt(2 / (k·k·C_out)), the
    release's init (docs/reclip_pp.md §4, §12); the bias keeps PyTorch's default. 'pytorch': PyTorch's default init, kept as
    is. With a BatchNorm right after the conv the weight's scale sets the effective step size, so the init is
    part of the method."""
    if weight_init not in CONV_WEIGHT_INITS:
        raise ValueError(f'{owner}: weight_init must be one of {CONV_WEIGHT_INITS}, got {weight_init!r}')
    if weight_init == 'kaiming_fan_out':
        nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')


@MODELS.register_module()
class RectifiedMaskDecoder(BaseModule):
    """``Z = BN(conv_k×k([F, L_r]))``: one conv (padding k//2, bias) from D + C to C channels, then a norm layer,
    no activation. The input order is features first, rectified logits second. ``weight_init`` is the conv's
    initialisation: 'kaiming_fan_out' (release, default) or 'pytorch' (PyTorch's default, ~12x smaller at C=20).

    ``L_r`` may be passed in two parts, ``logits + shared_logits``, where ``shared_logits`` (1, C, h, w) is the
    same for every image of the batch (the bias logits). While that part needs a gradient, the conv, being
    linear, is split: the per-image input ``[F, L_q]`` (frozen, no gradient) costs only the weight gradient,
    and the shared part is convolved once for the whole batch. Same function; the backward pass no longer
    computes an input gradient of D + C channels for every image (conv backward 0.78 s -> 0.07 s per
    iteration at batch 8, 336x336, C=150 on a 2-core CPU).
    """

    def __init__(self, feat_channels: int, num_classes: int, kernel_size: int = 5,
                 norm_cfg: dict = dict(type='BN'), weight_init: str = 'kaiming_fan_out', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv = nn.Conv2d(feat_channels + num_classes, num_classes, kernel_size, padding=kernel_size // 2,
                              bias=True)
        self.norm = build_norm_layer(norm_cfg, num_classes)[1]
        init_conv_weight(self.conv, weight_init, type(self).__name__)

    def forward(self, features: torch.Tensor, rectified_logits: torch.Tensor,
                shared_logits: Optional[torch.Tensor] = None) -> torch.Tensor:
        if shared_logits is not None and not (torch.is_grad_enabled() and shared_logits.requires_grad):
            rectified_logits, shared_logits = rectified_logits + shared_logits, None  # one conv is cheaper
        z = self.conv(torch.cat([features, rectified_logits], dim=1))
        if shared_logits is not None:
            weight = self.conv.weight[:, features.shape[1]:]
            z = z + F.conv2d(shared_logits, weight, None, self.conv.stride, self.conv.padding)
        return self.norm(z)


@MODELS.register_module()
class GumbelMask(BaseModule):
    """Hard Gumbel-Softmax over the class dimension of ``scale · Z`` (straight-through): forward is one-hot,
    backward is the gradient of the soft sample.

    The noise of each call comes from a generator seeded afresh from (seed, distributed rank, number of calls so
    far). The seed and the call count are a buffer (``noise_state``) saved in every checkpoint, so

    - a resumed run draws exactly the noise the uninterrupted run would have drawn, whatever else (validation,
      data loaders) used the global random stream in between;
    - each DDP rank draws its own noise (ranks differ in the seed mix) and stays exactly resumable, although
      only rank 0 writes the checkpoint: the call count is the same on every rank.

    The seed is ``torch.initial_seed()`` at construction (MMEngine's ``randomness.seed``) unless ``seed`` is given.
    """

    def __init__(self, scale: float = 100.0, tau: float = 1.0, hard: bool = True, seed: Optional[int] = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.scale, self.tau, self.hard = scale, tau, hard
        seed = int(torch.initial_seed() if seed is None else seed) % (2 ** 62)
        self.register_buffer('noise_state', torch.tensor([seed, 0], dtype=torch.int64))  # (seed, calls so far)
        self._generators = {}

    @property
    def seed(self) -> int:
        return int(self.noise_state[0])

    def _generator_for_this_call(self, device: torch.device) -> torch.Generator:
        from mmengine.dist import get_dist_info
        rank, _ = get_dist_info()
        generator = self._generators.get(device)
        if generator is None:
            generator = self._generators[device] = torch.Generator(device=device)
        seed, calls = (int(v) for v in self.noise_state)
        # SplitMix-style mixing of (seed, rank, calls) into one 63-bit seed: distinct streams per rank and call.
        mixed = (seed * 0x9E3779B97F4A7C15 + rank * 0xBF58476D1CE4E5B9 + calls * 0x94D049BB133111EB) % (2 ** 63)
        generator.manual_seed(mixed)
        self.noise_state[1] += 1
        return generator

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        generator = self._generator_for_this_call(logits.device)
        uniform = torch.empty_like(logits).exponential_(generator=generator)
        soft = torch.softmax((self.scale * logits - uniform.log()) / self.tau, dim=1)
        if not self.hard:
            return soft
        one_hot = torch.zeros_like(soft).scatter_(1, soft.argmax(dim=1, keepdim=True), 1.0)
        return one_hot - soft.detach() + soft

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Checkpoints of earlier versions stored a generator state ('rng_state') instead: restart the stream.
        legacy = state_dict.pop(prefix + 'rng_state', None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if legacy is not None and prefix + 'noise_state' in missing_keys:
            missing_keys.remove(prefix + 'noise_state')
            warnings.warn(f'GumbelMask: checkpoint of an earlier version (rng_state); the noise stream restarts '
                          f'from seed {self.seed}')
