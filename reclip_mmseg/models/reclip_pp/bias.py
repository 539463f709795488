"""Bias extraction (docs/reclip_pp.md §3): class preference from a Reference prompt learner, space preference from a
projection of CLIP's positional embedding; the bias logits are their matrix product."""
import warnings
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS

_WARNED_TRUNCATED = set()


@MODELS.register_module()
class ReferencePromptLearner(BaseModule):
    """CoOp-style shared context ``[SOS] v_1 … v_M [name] `` -> Reference text features ``R̂ (C, D)``.

    Args:
        text_encoder: a ``OpenCLIPTextEncoder`` (module) or its config; frozen, gradients pass through it to
            the context only.
        class_names: the class names (dataset spelling; prompt aliases applied by the encoder).
        num_context: M, learnable context tokens (release: 73, which leaves 3 positions for the name).
        context_init: 'token0' copies the embedding of token id ``context_token_id`` (release);
            'random' draws N(0, 0.02²) (CoOp).
        normalize: 'frobenius' divides R by the Frobenius norm of the whole C×D matrix (release);
            'per_class' L2-normalises each row; 'none' leaves R as it is.
        shared_prefix: compute the class-independent prefix once per pass (exact; much faster).
    """

    def __init__(self, text_encoder, class_names: Sequence[str], num_context: int = 73,
                 context_init: str = 'token0', context_token_id: int = 0, normalize: str = 'frobenius',
                 shared_prefix: bool = True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(text_encoder, dict):
            text_encoder = MODELS.build(text_encoder)
        if normalize not in ('frobenius', 'per_class', 'none'):
            raise ValueError(f"ReferencePromptLearner.normalize must be 'frobenius', 'per_class' or 'none', "
                             f"got {normalize!r}")
        self.text_encoder = text_encoder
        self.num_context = num_context
        self.normalize = normalize
        self.shared_prefix = shared_prefix
        ids, _, truncated = text_encoder.context_prompt_tokens(class_names, num_context, context_token_id)
        for name in truncated:
            if name not in _WARNED_TRUNCATED:
                _WARNED_TRUNCATED.add(name)
                warnings.warn(
                    f"ReferencePromptLearner: class name '{name}' does not fit with its end-of-text token in the "
                    f"{77 - 1 - num_context} positions left by num_context={num_context}; as in the authors' "
                    f"release it is cut and read at the highest-id position. Lower num_context to make room.")
        self.register_buffer('token_ids', ids, persistent=False)
        token_embedding = text_encoder.clip_model.token_embedding.weight
        if context_init == 'token0':
            init = token_embedding[context_token_id].detach().clone().repeat(num_context, 1)
        elif context_init == 'random':
            init = torch.randn(num_context, token_embedding.shape[1]) * 0.02
        else:
            raise ValueError(f"context_init must be 'token0' or 'random', got {context_init!r}")
        self.context = nn.Parameter(init.float())

    def forward(self) -> torch.Tensor:
        feats = self.text_encoder.encode_with_context(self.context, self.token_ids, self.num_context,
                                                      shared_prefix=self.shared_prefix).float()
        if self.normalize == 'frobenius':
            return feats / feats.norm()
        if self.normalize == 'per_class':
            return F.normalize(feats, dim=-1)
        return feats


@MODELS.register_module()
class PositionalBiasProjector(BaseModule):
    """A single 1×1 conv (with bias) mapping CLIP's interpolated positional embedding P (1, W, h, w) to the
    joint space: P' (1, D, h, w)."""

    def __init__(self, in_channels: int = 768, out_channels: int = 512, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.proj = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=True)

    def forward(self, pos: torch.Tensor) -> torch.Tensor:
        return self.proj(pos)


def bias_logits(projected_pos: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``L_b = P'ᵀ R̂ᵀ``: (1, D, h, w) × (C, D) -> (1, C, h, w); a plain product, no normalisation or scale."""
    return torch.einsum('bdhw,cd->bchw', projected_pos, reference)
