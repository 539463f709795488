"""``VPTCLIPViT``: frozen CLIP ViT with deep visual prompt tuning, TagCLIP / ZegCLIP's image encoder
(docs/tagclip.md §2.1). Only the prompt parameters train; gradients flow through the frozen blocks to them."""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from mmseg.registry import MODELS

from ...clip.image_encoder import CLIPFeatures
from ...clip.loader import FrozenCLIPModule
from ...clip.positions import patch_embed, resize_patch_pos
from ...utils.lru import GridCache
from ..checkpoint_checks import check_head_checkpoint


@MODELS.register_module()
class VPTCLIPViT(FrozenCLIPModule):
    """CLIP ViT with ``num_tokens`` learned prompt tokens in front of the patch tokens at every block.

    Forward (B, 3, H, W) -> ``CLIPFeatures`` as ``CLIPViT``: ``dense`` (B, D, h, w) L2-normalised per pixel, ``pos``
    (1, W, h, w) and the unnormalised ``global_embed`` (B, D) (D = 512 for ViT-B/16):
    patch embedding + positions (the pre-trained grid resized once to ``img_size / patch``, then to the input
    grid when it differs), class token, ``ln_pre``; the shallow prompts are inserted after the class token, and
    before each of the next ``deep_prompt_layers`` blocks the prompt slots are replaced by fresh prompts; every
    prompt is ``Dropout(prompt_proj(P))`` with one projection shared by all layers. After the last block the
    trainable ``prompt_norm`` runs over all tokens, then CLIP's frozen ``ln_post`` and projection.

    Args:
        clip: weight source (:func:`reclip_mmseg.clip.load_clip`); OpenAI ViT-B/16 with QuickGELU for the paper.
        num_tokens: prompt tokens per layer (10 for VOC, 100 for COCO-Stuff).
        deep_prompt_layers: blocks after the first that get fresh prompts (11: all 12 blocks see prompts); the
            blocks after the last of them run without prompt tokens (the release drops them).
        prompt_dropout: dropout on every projected prompt, drawn per image.
        prompt_init: 'uniform_vpt' draws prompts from U(-v, v), v = sqrt(6 / (3 p^2 + width)) (0.0625 for
            ViT-B/16), VPT's rule.
        prompt_proj: one shared width x width projection of the prompts (False: identity).
        prompt_norm_eps: epsilon of the trainable LayerNorm before ``ln_post``.
        pos_interp: how the pre-trained positional grid is resized: 'bilinear' (the release) or 'bicubic'.
        double_cls_embed: the release adds the class embedding twice to the class token (once as the token, once
            in its positional term): 2 e_cls + pos_0 instead of CLIP's e_cls + pos_0. True reproduces it.
        img_size: the training crop; the positional grid is first resized to ``img_size / patch`` as the release
            does at load time.
        checkpoint_blocks: activation checkpointing of the frozen blocks while gradients flow to the prompts:
            each block's activations are recomputed in the backward pass instead of kept (less memory, one more
            forward of the tower; the gradients are the same). Off by default, as the release.
    """

    def __init__(self, clip: Optional[dict] = None, num_tokens: int = 10, deep_prompt_layers: int = 11,
                 prompt_dropout: float = 0.1, prompt_init: str = 'uniform_vpt', prompt_proj: bool = True,
                 prompt_norm_eps: float = 1e-6, pos_interp: str = 'bilinear', double_cls_embed: bool = True,
                 img_size: int = 512, checkpoint_blocks: bool = False, init_cfg=None):
        super().__init__(clip=clip, init_cfg=init_cfg)
        visual = self.clip_model.visual
        if getattr(visual, 'attn_pool', None) is not None or getattr(visual, 'proj', None) is None:
            raise ValueError(f"VPTCLIPViT supports CLIP ViTs with class-token pooling and a projection; "
                             f"'{self.clip_cfg['model_name']}' is not one")
        depth = len(visual.transformer.resblocks)
        if not 0 <= deep_prompt_layers <= depth - 1:
            raise ValueError(f'VPTCLIPViT.deep_prompt_layers must be in [0, {depth - 1}] for a {depth}-block '
                             f'tower, got {deep_prompt_layers}')
        if pos_interp not in ('bilinear', 'bicubic'):
            raise ValueError(f"VPTCLIPViT.pos_interp must be 'bilinear' or 'bicubic', got {pos_interp!r}")
        if prompt_init != 'uniform_vpt':
            raise ValueError(f"VPTCLIPViT.prompt_init: only 'uniform_vpt' is implemented, got {prompt_init!r}")
        if num_tokens < 1:
            raise ValueError(f'VPTCLIPViT.num_tokens must be >= 1, got {num_tokens}')
        self.patch_size = visual.patch_size[0]
        self.width = visual.conv1.out_channels
        self.embed_dim = visual.proj.shape[1]
        self.num_tokens = num_tokens
        self.deep_prompt_layers = deep_prompt_layers
        self.pos_interp = pos_interp
        self.double_cls_embed = double_cls_embed
        self.img_size = img_size
        self.checkpoint_blocks = checkpoint_blocks

        self.prompt_init_bound = math.sqrt(6.0 / (3 * self.patch_size ** 2 + self.width))
        self.prompt_embeddings = nn.Parameter(torch.empty(1, num_tokens, self.width))
        self.deep_prompt_embeddings = nn.Parameter(torch.empty(deep_prompt_layers, num_tokens, self.width))
        self.prompt_proj = nn.Linear(self.width, self.width) if prompt_proj else nn.Identity()
        self.prompt_dropout = nn.Dropout(prompt_dropout)
        self.prompt_norm = nn.LayerNorm(self.width, eps=prompt_norm_eps)
        self._pos_cache = GridCache()
        self.reset_prompts()

    def reset_prompts(self):
        """The release's initialisation: prompts U(-v, v); projection weight kaiming-normal (fan_out), default
        bias; LayerNorm (1, 0)."""
        nn.init.uniform_(self.prompt_embeddings, -self.prompt_init_bound, self.prompt_init_bound)
        nn.init.uniform_(self.deep_prompt_embeddings, -self.prompt_init_bound, self.prompt_init_bound)
        if isinstance(self.prompt_proj, nn.Linear):
            nn.init.kaiming_normal_(self.prompt_proj.weight, a=0, mode='fan_out')
        self.prompt_norm.reset_parameters()

    def init_weights(self):
        # MMEngine's runner calls this after building; the prompts already hold the release's initialisation
        # (drawn in __init__ from the seeded generator), and the frozen CLIP is never re-initialised.
        pass

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # MMEngine loads non-strictly and would only warn, leaving random prompts: refuse instead, naming the cause.
        got = state_dict.get(prefix + 'prompt_embeddings')
        hint = '' if got is None or got.shape[1] == self.num_tokens else (
            f'The checkpoint has {got.shape[1]} prompt tokens, this config {self.num_tokens} '
            f'(model.backbone.num_tokens): use the config it was trained with.')
        check_head_checkpoint(self, state_dict, prefix, None,
                              f'a TagCLIP / ZegCLIP checkpoint with {self.num_tokens} prompt tokens', hint=hint)
        return super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def positional_embedding(self, h: int, w: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """(class-token position (W,), patch positions (h*w, W)) for an h x w grid. Cached per grid."""
        pos = self.clip_model.visual.positional_embedding

        def make():
            side = self.img_size // self.patch_size
            patch = resize_patch_pos(pos[1:], side, side, self.pos_interp)  # the release's load-time resize
            return pos[0], resize_patch_pos(patch, h, w, self.pos_interp)
        return self._pos_cache.get((h, w, pos.device, pos.dtype), make)

    def _prompts(self, params: torch.Tensor, batch: int, dtype) -> torch.Tensor:
        """(1, N, W) prompt parameters -> (B, N, W) ``Dropout(prompt_proj(P))``; the dropout runs after the expand
        over the batch, so every image draws its own mask (the release)."""
        return self.prompt_dropout(self.prompt_proj(params).to(dtype).expand(batch, -1, -1))

    def forward(self, inputs: torch.Tensor) -> CLIPFeatures:
        visual = self.clip_model.visual
        x = patch_embed(visual, inputs, self.patch_size)
        B, _, h, w = x.shape
        cls_pos, patch_pos = self.positional_embedding(h, w)
        tokens = x.flatten(2).transpose(1, 2) + patch_pos
        cls = visual.class_embedding + cls_pos
        if self.double_cls_embed:
            cls = cls + visual.class_embedding
        x = visual.ln_pre(torch.cat([cls.expand(B, 1, -1), tokens], dim=1))
        N = self.num_tokens
        x = torch.cat([x[:, :1], self._prompts(self.prompt_embeddings, B, x.dtype), x[:, 1:]], dim=1)

        transformer = visual.transformer
        batch_first = getattr(transformer, 'batch_first', True)
        for i, block in enumerate(transformer.resblocks):
            if 1 <= i <= self.deep_prompt_layers:  # fresh prompts replace the previous block's prompt outputs
                deep = self._prompts(self.deep_prompt_embeddings[i - 1:i], B, x.dtype)
                x = torch.cat([x[:, :1], deep, x[:, 1 + N:]], dim=1)
            elif i == self.deep_prompt_layers + 1:  # past the last deep layer the release drops the prompts
                x = torch.cat([x[:, :1], x[:, 1 + N:]], dim=1)
            if self.checkpoint_blocks and torch.is_grad_enabled():
                x = checkpoint(_run_block, block, x, batch_first, use_reentrant=False)
            else:
                x = _run_block(block, x, batch_first)
        x = visual.ln_post(self.prompt_norm(x)) @ visual.proj
        dense = F.normalize(x[:, -h * w:].float(), dim=-1).transpose(1, 2).reshape(B, -1, h, w)
        # CLIPViT's contract: dense L2-normalised per pixel, P (1, W, h, w), the global embedding unnormalised
        pos = patch_pos.t().reshape(1, -1, h, w)
        return CLIPFeatures(dense=dense, pos=pos, global_embed=x[:, 0].float())


def _run_block(block, x: torch.Tensor, batch_first: bool) -> torch.Tensor:
    """One residual block on batch-first tokens (open_clip towers built sequence-first get them transposed)."""
    return block(x) if batch_first else block(x.transpose(0, 1)).transpose(0, 1)
