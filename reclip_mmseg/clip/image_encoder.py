"""``CLIPViT``: the frozen CLIP image tower with MaskCLIP's dense path (docs/reclip_pp.md §1)."""
import copy
import warnings
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from ..utils.lru import GridCache
from .loader import FrozenCLIPModule
from .positions import interpolate_pos_embed, patch_embed
from .self_calibration import check_lof, constants_for_depth, heads_qkv, self_calibrated_tokens


DENSE_MODES = ('maskclip', 'vanilla', 'sclip', 'clearclip', 'naclip', 'sc_clip', 'sfp')
SELF_CALIBRATED_MODES = ('sc_clip', 'sfp')


class CLIPFeatures(NamedTuple):
    """What ``CLIPViT`` returns (a tuple, so MMSeg code that indexes backbone outputs keeps working)."""
    dense: torch.Tensor  # F (B, D, h, w), L2-normalised per pixel
    pos: torch.Tensor  # P (1, W, h, w), raw interpolated patch positional embedding (image-independent)
    global_embed: Optional[torch.Tensor]  # (B, D), unnormalised, as open_clip's encode_image


@MODELS.register_module()
class CLIPViT(FrozenCLIPModule):
    """Frozen CLIP ViT for dense prediction.

    The positional embedding's patch part is resized bicubically to the input's token grid; the input is
    zero-padded (right/bottom) to a multiple of the patch size. The last block's dense path skips
    query/key attention: each token goes through the value and output projections, the residual and the MLP,
    then ``ln_post`` and the visual projection. The global embedding takes the ordinary path (the class token
    attending to all tokens), computed for the class token alone.

    Args:
        clip: weight source, see :func:`reclip_mmseg.clip.load_clip`.
        with_global: also return the global image embedding (cheap: one query token).
        dense_mode: how the last block makes the dense tokens (docs/training_free.md): 'maskclip' (default, the
            value path above, ReCLIP++'s feature), 'vanilla' (CLIP as trained), 'sclip' (q-q + k-k attention,
            residual and MLP kept), 'clearclip' (q-q attention, no residual/MLP), 'naclip' (k-k attention plus a
            Gaussian neighbourhood term, no residual/MLP), 'sc_clip' and 'sfp' (self-calibrated multi-step
            pipelines, see ``self_calibration.py``). The global embedding and ``P`` do not depend on it.
        naclip_sigma: NACLIP's Gaussian width in patches.
        trainable: fine-tune the image tower (the paper's Table VI ablation, a negative result: VOC 1.2 mIoU).
            The tower is then a copy owned by this module: in its parameters, optimiser and checkpoints.
        lof: SC-CLIP's outlier detector (``dense_mode='sc_clip'`` only): 'release' (default, the authors' Local
            Outlier Factor: squared distances, reach distance from the token's own k-distance) or 'sklearn'
            (scikit-learn's ``LocalOutlierFactor``); see ``self_calibration.lof_outliers``.
    """

    def __init__(self, clip: Optional[dict] = None, with_global: bool = True, dense_mode: str = 'maskclip',
                 naclip_sigma: float = 5.0, trainable: bool = False, lof: str = 'release', init_cfg=None):
        if dense_mode not in DENSE_MODES:
            raise ValueError(f'CLIPViT.dense_mode must be one of {DENSE_MODES}, got {dense_mode!r}')
        check_lof(lof)
        super().__init__(clip=clip, init_cfg=init_cfg)
        visual = self.clip_model.visual
        for attr, ok in (('attn_pool', lambda v: v is None), ('proj', lambda v: v is not None),
                         ('final_ln_after_pool', lambda v: not v), ('pool_type', lambda v: v == 'tok')):
            if not ok(getattr(visual, attr, None)):
                raise ValueError(f"CLIPViT supports CLIP ViTs with class-token pooling and a projection; "
                                 f"'{self.clip_cfg['model_name']}' has visual.{attr}={getattr(visual, attr, None)!r}")
        self.with_global = with_global
        if dense_mode in SELF_CALIBRATED_MODES:
            constants_for_depth(len(self.clip_model.visual.transformer.resblocks))  # fails early for other depths
        self.dense_mode = dense_mode
        self.naclip_sigma = naclip_sigma
        self.lof = lof
        self._gauss_cache = GridCache()
        self.patch_size = visual.patch_size[0]
        self.width = visual.conv1.out_channels
        self.embed_dim = visual.proj.shape[1]
        self._pos_cache = GridCache()
        self.trainable = trainable
        if trainable:
            warnings.warn('CLIPViT(trainable=True): the CLIP image encoder is fine-tuned. This is the paper\'s Table VI '
                          'ablation, a negative result (VOC 73.5 -> 1.2 mIoU); the checkpoints hold the whole tower.')
            # A copy: the loaded model is shared (text tower, other modules of this process) and must stay frozen.
            self.trainable_visual = copy.deepcopy(visual).requires_grad_(True).float()

    @property
    def visual(self):
        return self.trainable_visual if self.trainable else self.clip_model.visual

    def interpolated_pos_embed(self, h: int, w: int) -> torch.Tensor:
        """(1 + h*w, W): class-token part kept, patch part resized bicubically. Cached per grid and device
        (not when the tower is trained: the embedding changes and needs its gradient)."""
        pos = self.visual.positional_embedding
        if self.trainable:
            return interpolate_pos_embed(pos, h, w)
        key = (h, w, pos.device, pos.dtype)
        return self._pos_cache.get(key, lambda: interpolate_pos_embed(pos, h, w))

    def _tokens_before_last_block(self, inputs: torch.Tensor, outputs: Optional[list] = None):
        """Pad, embed and run every block but the last: (B, 1 + h*w, W) batch-first tokens, the interpolated
        positional embedding and the grid. ``outputs``, if a list, receives every block's output (batch-first)."""
        visual = self.visual
        x = patch_embed(visual, inputs, self.patch_size)
        B, _, h, w = x.shape
        pos = self.interpolated_pos_embed(h, w)
        tokens = x.flatten(2).transpose(1, 2) + pos[1:]
        cls = (visual.class_embedding + pos[0]).expand(B, 1, -1)
        x = visual.ln_pre(torch.cat([cls, tokens], dim=1))

        transformer = visual.transformer
        batch_first = getattr(transformer, 'batch_first', True)
        if not batch_first:
            x = x.transpose(0, 1)
        for block in transformer.resblocks[:-1]:
            x = block(x)
            if outputs is not None:
                outputs.append(x if batch_first else x.transpose(0, 1))
        if not batch_first:
            x = x.transpose(0, 1)
        return x, pos, h, w

    def forward(self, inputs: torch.Tensor) -> CLIPFeatures:
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            return self._forward(inputs)

    def _forward(self, inputs: torch.Tensor) -> CLIPFeatures:
        visual = self.visual
        outputs = [] if self.dense_mode in SELF_CALIBRATED_MODES else None
        x, pos, h, w = self._tokens_before_last_block(inputs, outputs)
        B = x.shape[0]
        last = visual.transformer.resblocks[-1]

        if outputs is not None:
            dense = self_calibrated_tokens(visual.transformer.resblocks, outputs, h, w, self.dense_mode, self.lof)
        else:
            dense = self._dense_tokens(last, x, h, w)
        dense = visual.ln_post(dense) @ visual.proj
        dense = F.normalize(dense, dim=-1).transpose(1, 2).reshape(B, -1, h, w)

        global_embed = self._class_token_path(last, x) if self.with_global else None
        pos_map = pos[1:].t().reshape(1, -1, h, w)
        return CLIPFeatures(dense.float(), pos_map.float(), global_embed)

    @torch.no_grad()
    def encode_global(self, inputs: torch.Tensor) -> torch.Tensor:
        """open_clip's ``encode_image`` (B, D), unnormalised, without the work it discards: the last block runs
        for the class token alone (one query instead of 1 + h*w: most of one block of twelve), no dense path."""
        x, _, _, _ = self._tokens_before_last_block(inputs)
        return self._class_token_path(self.visual.transformer.resblocks[-1], x)

    def _dense_tokens(self, block, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """The last block's dense patch tokens (B, h*w, W), before ``ln_post``, for ``self.dense_mode``."""
        mode = self.dense_mode
        if mode == 'maskclip':
            return self._value_path(block, x[:, 1:])
        q, k, v = heads_qkv(block, x)
        if mode == 'vanilla':
            out = F.scaled_dot_product_attention(q, k, v)
        elif mode == 'sclip':  # two softmaxes summed, rows sum to 2 (not renormalised)
            out = F.scaled_dot_product_attention(q, q, v) + F.scaled_dot_product_attention(k, k, v)
        elif mode == 'clearclip':
            out = F.scaled_dot_product_attention(q, q, v)
        else:  # naclip: the Gaussian is added to the scaled k-k logits before the softmax
            out = F.scaled_dot_product_attention(k, k, v, attn_mask=self.naclip_gaussian(h, w, v.device, v.dtype))
        out = block.attn.out_proj(out.transpose(1, 2).flatten(2))  # O(A), (B, 1 + h*w, W)
        if mode in ('vanilla', 'sclip'):  # residual and MLP kept
            out = x + block.ls_1(out)
            out = out + block.ls_2(block.mlp(block.ln_2(out)))
        return out[:, 1:]

    def naclip_gaussian(self, h: int, w: int, device, dtype) -> torch.Tensor:
        """(1 + h*w, 1 + h*w) NACLIP neighbourhood term: ``exp(-|p_i - p_j|^2 / (2 sigma^2))`` between patch grid
        positions, 0 in the class token's row and column. Depends on the grid only: cached per grid."""
        def make():
            ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                                    indexing='ij')
            pts = torch.stack([ys.flatten(), xs.flatten()], dim=1)
            gauss = torch.exp(-torch.cdist(pts, pts) ** 2 / (2 * self.naclip_sigma ** 2))
            return F.pad(gauss, (1, 0, 1, 0)).to(device=device, dtype=dtype)
        return self._gauss_cache.get((h, w, device, dtype), make)

    @staticmethod
    def _value_path(block, x: torch.Tensor) -> torch.Tensor:
        """The last block without query/key attention: value proj -> out proj, residual, MLP."""
        attn = block.attn
        width = x.shape[-1]
        v = F.linear(block.ln_1(x), attn.in_proj_weight[2 * width:], attn.in_proj_bias[2 * width:])
        x = x + block.ls_1(attn.out_proj(v))
        return x + block.ls_2(block.mlp(block.ln_2(x)))

    def _class_token_path(self, block, x: torch.Tensor) -> torch.Tensor:
        """The ordinary last block for the class token only (all tokens as keys/values)."""
        y = block.ln_1(x)
        q = y[:, :1]
        if not getattr(self.visual.transformer, 'batch_first', True):
            q, y = q.transpose(0, 1), y.transpose(0, 1)
            out = block.attn(q, y, y, need_weights=False)[0].transpose(0, 1)
        else:
            out = block.attn(q, y, y, need_weights=False)[0]
        cls = x[:, :1] + block.ls_1(out)
        cls = cls + block.ls_2(block.mlp(block.ln_2(cls)))
        return (self.visual.ln_post(cls[:, 0]) @ self.visual.proj).float()
