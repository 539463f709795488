"""``CLIPViT``: the frozen CLIP image tower with MaskCLIP's dense path (docs/reclip_pp.md §1)."""
import copy
import warnings
from typing import Callable, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmseg.registry import MODELS

from ..utils.lru import GridCache
from .loader import FrozenCLIPModule
from . import cliper as cliper_mode
from . import gem as gem_mode
from . import resclip as resclip_mode
from .depth_constants import describe as describe_constants
from .positions import POS_RESIZE_RULES, interpolate_pos_embed, patch_embed
from .self_calibration import (block_with_attention, check_lof, constants_for_depth, heads_qkv,
                               self_calibrated_tokens)


DENSE_MODES = ('maskclip', 'vanilla', 'sclip', 'clearclip', 'naclip', 'sc_clip', 'sfp', 'resclip', 'cliper', 'gem')
SELF_CALIBRATED_MODES = ('sc_clip', 'sfp')


def _mode_settings(name: str, defaults: dict, given: Optional[dict]) -> dict:
    unknown = set(given or {}) - set(defaults)
    if unknown:
        raise ValueError(f'CLIPViT.{name} (model.backbone.{name}): unknown keys {sorted(unknown)}; known: '
                         f'{sorted(defaults)}')
    return {**defaults, **(given or {})}


class CLIPFeatures(NamedTuple):
    """What ``CLIPViT`` returns (a tuple, so MMSeg code that indexes backbone outputs keeps working)."""
    dense: torch.Tensor  # F (B, D, h, w), L2-normalised per pixel
    pos: torch.Tensor  # P (1, W, h, w), raw interpolated patch positional embedding (image-independent)
    global_embed: Optional[torch.Tensor]  # (B, D), unnormalised, as open_clip's encode_image
    # (B, C, h, w) class scores made inside the tower by a mode that fuses at the class level ('cliper'); they
    # replace the head's cosine logits. None for every other mode.
    scores: Optional[torch.Tensor] = None


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
            pipelines, see ``self_calibration.py``), 'resclip' (RCS + semantic feedback, two last-block passes,
            ``resclip.py``), 'cliper' (CLIPer without its diffusion refinement: fused early-layer attention, the
            last block on every layer's input, class maps fused over the layers, ``cliper.py``), 'gem' (GEM's
            self-self attention path over the last blocks, ``gem.py``). 'resclip' and 'cliper' classify inside
            the tower: ``forward`` needs the class embeddings (``text``), which ``CLIPSegmentor`` passes from its
            head. The global embedding and ``P`` do not depend on the mode.
        naclip_sigma: NACLIP's Gaussian width in patches (whatever the patch size: 5 patches are 80 px on ViT-B/16,
            160 px on ViT-B/32, 70 px on ViT-L/14).
        trainable: fine-tune the image tower (the paper's Table VI ablation, a negative result: VOC 1.2 mIoU).
            The tower is then a copy owned by this module: in its parameters, optimiser and checkpoints.
        lof: SC-CLIP's outlier detector (``dense_mode='sc_clip'`` only): 'release' (default, the authors' Local
            Outlier Factor: squared distances, reach distance from the token's own k-distance) or 'sklearn'
            (scikit-learn's ``LocalOutlierFactor``); see ``self_calibration.lof_outliers``.
        resclip: ResCLIP's constants (``dense_mode='resclip'`` only), any of: ``base`` ('naclip', the release's,
            default; or 'clearclip': the base attention of both passes), ``tau_r``, ``lambda_r`` (RCS), ``tau_s``,
            ``lambda_s`` (SFR), ``temp_thd`` (first-pass confidence below which a pixel is labelled class 0),
            ``sigma`` (the Gaussian of G and of the SFR blur, 5), ``logit_scale`` (first-pass softmax, 40),
            ``pamr_iterations`` / ``pamr_dilations`` (first-pass PAMR, 10 / (8, 16)), ``sfr`` (False: RCS alone,
            one pass), ``rcs_blocks`` (the 1-indexed blocks whose attention R averages; None: by depth, blocks 6-9
            on 12- and 24-block ViTs, other depths must set it). Defaults: the release's VOC-20 row.
        cliper: CLIPer's constants (``dense_mode='cliper'`` only): ``logit_scale`` (per-layer softmax, 100; the
            release uses 50 on COCO-Stuff and COCO-Object) and ``attention_thr`` (0.1 on VOC).
        gem: GEM's constants (``dense_mode='gem'`` only): ``blocks`` (the last 6, on every depth, as GEM's
            library), ``iterations`` (1), ``temperature`` (None: adaptive).

    Per-depth constants (SC-CLIP / SFP blocks and class-token weight, ResCLIP's RCS blocks) are chosen by the
    number of vision blocks (``depth_constants.py``; docs/training_free.md §8); each build logs which.
    """

    def __init__(self, clip: Optional[dict] = None, with_global: bool = True, dense_mode: str = 'maskclip',
                 naclip_sigma: float = 5.0, trainable: bool = False, lof: str = 'release',
                 resclip: Optional[dict] = None, cliper: Optional[dict] = None, gem: Optional[dict] = None,
                 pos_resize: str = 'size', pad_to_patch: bool = True, init_cfg=None):
        if dense_mode not in DENSE_MODES:
            raise ValueError(f'CLIPViT.dense_mode must be one of {DENSE_MODES}, got {dense_mode!r}')
        check_lof(lof)
        if pos_resize not in POS_RESIZE_RULES:
            raise ValueError(f'CLIPViT.pos_resize (model.backbone.pos_resize) must be one of {POS_RESIZE_RULES}, '
                             f'got {pos_resize!r}')
        resclip = _mode_settings('resclip', resclip_mode.DEFAULTS, resclip)
        cliper = cliper_mode.check_settings(_mode_settings('cliper', cliper_mode.DEFAULTS, cliper))
        gem = _mode_settings('gem', gem_mode.DEFAULTS, gem)
        super().__init__(clip=clip, init_cfg=init_cfg)
        visual = self.clip_model.visual
        for attr, ok in (('attn_pool', lambda v: v is None), ('proj', lambda v: v is not None),
                         ('final_ln_after_pool', lambda v: not v), ('pool_type', lambda v: v == 'tok')):
            if not ok(getattr(visual, attr, None)):
                raise ValueError(f"CLIPViT supports CLIP ViTs with class-token pooling and a projection; "
                                 f"'{self.clip_cfg['model_name']}' has visual.{attr}={getattr(visual, attr, None)!r}")
        self.with_global = with_global
        depth = len(self.clip_model.visual.transformer.resblocks)
        if dense_mode in SELF_CALIBRATED_MODES:
            constants_for_depth(depth, dense_mode)  # fails early for other depths
        elif dense_mode == 'resclip':
            resclip_mode.check_settings(resclip, depth)
        elif dense_mode == 'gem':
            gem_mode.check_settings(gem, depth)
        # One line per build: which per-depth constants this mode takes on this architecture, and from where.
        print_log(describe_constants(dense_mode, self.clip_cfg.get('model_name', 'ViT-B-16'), depth,
                                     visual.patch_size[0], visual.transformer.resblocks[-1].attn.num_heads,
                                     naclip_sigma=naclip_sigma, resclip=resclip, cliper=cliper, gem=gem),
                  logger='current')
        self.dense_mode = dense_mode
        self.resclip, self.cliper, self.gem = resclip, cliper, gem
        self.naclip_sigma = naclip_sigma
        self.lof = lof
        self._gauss_cache = GridCache()
        self.patch_size = visual.patch_size[0]
        self.width = visual.conv1.out_channels
        self.embed_dim = visual.proj.shape[1]
        self._pos_cache = GridCache()
        # the training-free releases' input handling (authors' presets): position resize by scale factors with their
        # +0.1, and no padding to the patch size (the convolution drops the remainder)
        self.pos_resize = pos_resize
        self.pad_to_patch = pad_to_patch
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
            return interpolate_pos_embed(pos, h, w, rule=self.pos_resize)
        key = (h, w, pos.device, pos.dtype, self.pos_resize)
        return self._pos_cache.get(key, lambda: interpolate_pos_embed(pos, h, w, rule=self.pos_resize))

    def _tokens_before_last_block(self, inputs: torch.Tensor, outputs: Optional[list] = None,
                                  hook: Optional[Tuple[frozenset, Callable]] = None):
        """Pad, embed and run every block but the last: (B, 1 + h*w, W) batch-first tokens, the interpolated
        positional embedding and the grid. ``outputs``, if a list, receives every block's output (batch-first).
        ``hook = (blocks, fn)``: each block whose 1-indexed number is in ``blocks`` runs from its weights
        (``block_with_attention``, the same arithmetic) and ``fn(b, attention, LN1(input))`` receives its per-head
        attention (B, heads, L, L) and normalised input (batch-first)."""
        visual = self.visual
        x = patch_embed(visual, inputs, self.patch_size, pad=self.pad_to_patch)
        B, _, h, w = x.shape
        pos = self.interpolated_pos_embed(h, w)
        # the embeddings (float32) are cast to the tokens' dtype before they are added, as OpenAI's forward does:
        # a no-op in float32, float16 sums in the half-precision CLIP (clip.precision='fp16')
        tokens = x.flatten(2).transpose(1, 2) + pos[1:].to(x.dtype)
        cls = (visual.class_embedding.to(x.dtype) + pos[0].to(x.dtype)).expand(B, 1, -1)
        x = visual.ln_pre(torch.cat([cls, tokens], dim=1))

        transformer = visual.transformer
        batch_first = getattr(transformer, 'batch_first', True)
        if not batch_first:
            x = x.transpose(0, 1)
        for b, block in enumerate(transformer.resblocks[:-1], start=1):
            if hook is not None and b in hook[0]:
                xb, attn, y = block_with_attention(block, x if batch_first else x.transpose(0, 1))
                hook[1](b, attn, y)
                x = xb if batch_first else xb.transpose(0, 1)
            else:
                x = block(x)
            if outputs is not None:
                outputs.append(x if batch_first else x.transpose(0, 1))
        if not batch_first:
            x = x.transpose(0, 1)
        return x, pos, h, w

    @property
    def needs_text(self) -> bool:
        """Whether ``forward`` needs the class embeddings: 'cliper', and 'resclip' with its semantic feedback."""
        return self.dense_mode == 'cliper' or (self.dense_mode == 'resclip' and bool(self.resclip['sfr']))

    def forward(self, inputs: torch.Tensor, text: Optional[torch.Tensor] = None,
                trace: Optional[dict] = None) -> CLIPFeatures:
        """``text``: the class embeddings (C, D), unit-norm, for the modes that classify inside the tower
        (``needs_text``; ``CLIPSegmentor`` passes its head's). ``trace``, if a dict, receives the intermediate
        stages of 'resclip', 'cliper' and 'gem' (for tests)."""
        if self.needs_text and text is None:
            raise ValueError(f"CLIPViT(dense_mode={self.dense_mode!r}) classifies inside the tower and needs the class "
                             f"embeddings: call it as backbone(inputs, text=T) with T (C, D), or build it in a "
                             f"CLIPSegmentor, which passes its head's")
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            return self._forward(inputs, text, trace)

    def _project(self, tokens: torch.Tensor) -> torch.Tensor:
        """Tokens (B, N, W) -> unit features (B, N, D): ``ln_post``, the visual projection, L2 norm."""
        return F.normalize(self.visual.ln_post(tokens) @ self.visual.proj, dim=-1)

    def _forward(self, inputs: torch.Tensor, text: Optional[torch.Tensor] = None,
                 trace: Optional[dict] = None) -> CLIPFeatures:
        visual = self.visual
        mode = self.dense_mode
        blocks = visual.transformer.resblocks
        depth = len(blocks)
        outputs = [] if mode in SELF_CALIBRATED_MODES + ('gem',) else None
        captured = {}
        hook = None
        if mode == 'resclip':  # R: the running sum of the attention of blocks 6..9
            def keep(b, attn, y):
                captured['rcs'] = attn if 'rcs' not in captured else captured['rcs'] + attn
            hook = (frozenset(resclip_mode.rcs_blocks(depth, self.resclip)), keep)
        elif mode == 'cliper':
            hook = self._cliper_hook(captured)
        x, pos, h, w = self._tokens_before_last_block(inputs, outputs, hook)
        B = x.shape[0]
        last = blocks[-1]

        scores = None
        if mode in SELF_CALIBRATED_MODES:
            dense = self_calibrated_tokens(blocks, outputs, h, w, mode, self.lof)
        elif mode == 'resclip':
            rcs = captured['rcs'] / len(resclip_mode.rcs_blocks(depth, self.resclip))
            p = self.patch_size
            image = F.pad(inputs, (0, w * p - inputs.shape[-1], 0, h * p - inputs.shape[-2]))
            gauss = (self.naclip_gaussian(h, w, x.device, x.dtype, self.resclip['sigma'])
                     if self.resclip['base'] == 'naclip' else None)
            dense = resclip_mode.resclip_tokens(last, x, rcs, h, w, image, text, self.resclip, gauss, self._project,
                                                trace)
        elif mode == 'cliper':
            dense, scores = cliper_mode.cliper_outputs(last, captured['layers'] + [x], captured['attn_sum'], h, w,
                                                       text, self.cliper, self._project, trace)
        elif mode == 'gem':
            dense = gem_mode.gem_tokens(blocks, outputs, self.gem, trace)
        else:
            dense = self._dense_tokens(last, x, h, w)
        dense = self._project(dense).transpose(1, 2).reshape(B, -1, h, w)

        global_embed = self._class_token_path(last, x) if self.with_global else None
        pos_map = pos[1:].t().reshape(1, -1, h, w)
        return CLIPFeatures(dense.float(), pos_map.float(), global_embed, None if scores is None else scores.float())

    def _cliper_hook(self, captured: dict):
        """CLIPer's capture over blocks 1..L-1: ``captured['attn_sum']`` = A_Σ (per head), ``captured['layers']`` =
        each block's LN1 output (batch-first)."""
        def keep(b, attn, y):
            captured['attn_sum'] = attn if b == 1 else captured['attn_sum'] + attn
            captured.setdefault('layers', []).append(y)
        return frozenset(range(1, len(self.visual.transformer.resblocks))), keep

    @torch.no_grad()
    def cliper_layer_logits(self, inputs: torch.Tensor, queries: torch.Tensor):
        """CLIPer's layers before its softmax (``dense_mode='cliper'``; the authors' protocol, docs/training_free.md
        §6.5): (the L layers' logits ``logit_scale · cos(F_k, queries)`` on the patch tokens (L, B, h*w, Q), the head
        mean of the last fused attention without the class token (B, h*w, h*w), (h, w)). ``queries``: unit text
        embeddings (Q, D), in the order the caller's softmax wants them."""
        if self.dense_mode != 'cliper':
            raise ValueError(f"CLIPViT.cliper_layer_logits needs dense_mode='cliper', not {self.dense_mode!r}")
        captured = {}
        x, _, h, w = self._tokens_before_last_block(inputs, None, self._cliper_hook(captured))
        _, logits, fused = cliper_mode.layer_logits(self.visual.transformer.resblocks[-1], captured['layers'] + [x],
                                                    captured['attn_sum'], queries, self.cliper['logit_scale'],
                                                    self._project)
        return logits.float(), fused.mean(dim=1)[:, 1:, 1:].float(), (h, w)

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

    def naclip_gaussian(self, h: int, w: int, device, dtype, sigma: Optional[float] = None) -> torch.Tensor:
        """(1 + h*w, 1 + h*w) NACLIP neighbourhood term: ``exp(-|p_i - p_j|^2 / (2 sigma^2))`` between patch grid
        positions, 0 in the class token's row and column (``sigma``: ``naclip_sigma`` unless given). Depends on the
        grid only: cached per grid."""
        sigma = self.naclip_sigma if sigma is None else sigma

        def make():
            ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                                    indexing='ij')
            pts = torch.stack([ys.flatten(), xs.flatten()], dim=1)
            gauss = torch.exp(-torch.cdist(pts, pts) ** 2 / (2 * sigma ** 2))
            return F.pad(gauss, (1, 0, 1, 0)).to(device=device, dtype=dtype)
        return self._gauss_cache.get((h, w, device, dtype, sigma), make)

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
