"""``TagCLIPHead``: text queries through a relationship descriptor and an ATM decoder whose attention logits are the
masks, plus TagCLIP's trusty token (docs/tagclip.md §2.3–2.7, §4.4, §5). With ``use_trusty=False`` and cross-attention
only it is ZegCLIP's head."""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.losses import accuracy
from mmseg.registry import MODELS
from mmseg.utils import SampleList

from ..checkpoint_checks import check_head_checkpoint
from ..text_head import CLIPTextHead

LAYER_TYPES = ('self+cross', 'cross')
TRUSTY_EVAL_MODES = ('both', 'seen', 'unseen', 'none')
TRUSTY_TARGETS = ('unseen_gt', 'not_seen')


class RelationshipDescriptor(nn.Module):
    """``q_bt = W [g_b ⊙ t ; t] + b``: every text token conditioned on the image's global embedding (ZegCLIP)."""

    def __init__(self, dims: int):
        super().__init__()
        self.proj = nn.Linear(2 * dims, dims)

    def forward(self, global_embed: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """(B, D), (T, D) -> (B, T, D)."""
        B, T = global_embed.shape[0], tokens.shape[0]
        pair = torch.cat([global_embed[:, None] * tokens[None], tokens[None].expand(B, T, -1)], dim=-1)
        return self.proj(pair)


class ATMCrossAttention(nn.Module):
    """Multi-head cross-attention that also returns its pre-softmax logits averaged over heads (SegViT's
    attention-to-mask: a query's logit at a pixel is that pixel's mask logit)."""

    def __init__(self, dims: int, num_heads: int, attn_drop: float):
        super().__init__()
        if dims % num_heads:
            raise ValueError(f'TagCLIPHead: embed_dims={dims} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.scale = (dims // num_heads) ** -0.5
        self.q, self.k, self.v, self.proj = (nn.Linear(dims, dims) for _ in range(4))
        self.attn_drop = nn.Dropout(attn_drop)

    def forward(self, x: torch.Tensor, memory: torch.Tensor):
        """x (B, T, D) queries, memory (B, N, D) -> (out (B, T, D), head-mean logits (B, T, N))."""
        B, T, D = x.shape
        N, H = memory.shape[1], self.num_heads
        q = self.q(x).reshape(B, T, H, -1).transpose(1, 2)
        k = self.k(memory).reshape(B, N, H, -1).transpose(1, 2)
        v = self.v(memory).reshape(B, N, H, -1).transpose(1, 2)
        logits = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, T, N)
        attn = self.attn_drop(logits.softmax(dim=-1))
        out = self.proj((attn @ v).transpose(1, 2).reshape(B, T, D))
        return out, logits.mean(dim=1)


class ATMDecoderLayer(nn.Module):
    """Post-norm transformer decoder layer (torch's ``TransformerDecoderLayer`` layout, ReLU FFN) whose
    cross-attention is ``ATMCrossAttention``; query self-attention only when ``self_attn`` ('self+cross')."""

    def __init__(self, dims: int, num_heads: int, ffn_dims: int, dropout: float, self_attn: bool):
        super().__init__()
        self.has_self_attn = self_attn
        if self_attn:
            self.self_attn = nn.MultiheadAttention(dims, num_heads, dropout=dropout, batch_first=True)
            self.norm1 = nn.LayerNorm(dims)
            self.dropout1 = nn.Dropout(dropout)
        self.cross_attn = ATMCrossAttention(dims, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dims)
        self.dropout2 = nn.Dropout(dropout)
        self.linear1 = nn.Linear(dims, ffn_dims)
        self.linear2 = nn.Linear(ffn_dims, dims)
        self.dropout = nn.Dropout(dropout)
        self.norm3 = nn.LayerNorm(dims)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor):
        if self.has_self_attn:
            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, need_weights=False)[0]))
        out, logits = self.cross_attn(x, memory)
        x = self.norm2(x + self.dropout2(out))
        x = self.norm3(x + self.dropout3(self.linear2(self.dropout(F.relu(self.linear1(x))))))
        return x, logits


@MODELS.register_module()
class TagCLIPHead(CLIPTextHead):
    """TagCLIP's decode head over ``VPTCLIPViT``'s ``CLIPFeatures`` (``dense`` (B, D, h, w), ``global_embed`` (B, D)).

    Queries: the frozen class text embeddings (all ``class_names``; the seen ones in inductive training) and,
    with ``use_trusty``, one learned trusty token appended last; each goes through the relationship descriptor,
    then the decoder. The last layer's head-averaged cross-attention logits are the masks: one channel per class
    and the trusty map.

    Training: class ids are remapped to the training classes (inductive: seen only, everything else ignored,
    which the loss counts as negative); ``self_training=True`` (transductive) trains on all classes and labels
    each unseen-GT pixel with the current model's most likely unseen class (ZegCLIP's semantics; the release's
    sentinel bug that disabled it is not reproduced). The trusty map's target is ``'unseen_gt'`` (1 where the
    original label is unseen: the release; uses unseen locations) or ``'not_seen'`` (1 wherever the label is not
    a seen class, ignored pixels included: needs seen labels only, strictly inductive).

    Inference (per window): ``P_c = sigmoid(m_c) - seen_bias·[c seen]``, ``w = sigmoid(m_τ)``; ``trusty_eval``
    'both' multiplies seen classes by (1 - w) and unseen classes by w ('seen' / 'unseen': one factor only,
    'none': no gating). Returns the scores of every class; MMSeg takes the argmax.

    Args:
        class_names: every class of the test vocabulary (a vocabulary key or a list), in dataset order.
        unseen_idx: indices into ``class_names`` of the unseen classes; the rest are seen.
        text_encoder: ``OpenCLIPTextEncoder`` config (templates, raw or readable names).
        embed_dims: decoder width; None = the CLIP embedding width (the memory is not projected).
        num_heads, ffn_ratio, dropout: 8, 4 (FFN 2048 at 512), 0.1.
        layer_types: per decoder layer 'self+cross' or 'cross'; TagCLIP ('self+cross', 'cross', 'cross'),
            ZegCLIP all 'cross'.
        use_trusty: add the trusty token (TagCLIP); False = ZegCLIP.
        seen_bias: subtracted from seen-class sigmoids at inference (0.1 inductive / supervised, 0 transductive
            and cross-dataset).
        trusty_eval, trusty_target: see above.
        self_training: transductive training (all classes, pseudo-labels on unseen pixels).
        loss_decode: the loss module (``TagCLIPCriterion`` with the release's weights by default).
    """

    def __init__(self, class_names='voc20', unseen_idx: Sequence[int] = (), text_encoder: Optional[dict] = None,
                 embed_dims: Optional[int] = None, num_heads: int = 8, ffn_ratio: int = 4, dropout: float = 0.1,
                 layer_types: Sequence[str] = ('self+cross', 'cross', 'cross'), use_trusty: bool = True,
                 seen_bias: float = 0.1, trusty_eval: str = 'both', trusty_target: str = 'unseen_gt',
                 self_training: bool = False, loss_decode: Optional[dict] = None, **kwargs):
        kwargs.setdefault('ignore_index', 255)
        super().__init__(class_names=class_names, text_encoder=text_encoder,
                         loss_decode=loss_decode or dict(type='TagCLIPCriterion'), **kwargs)
        C = self.num_classes
        unseen = sorted({int(i) for i in unseen_idx})
        if any(not 0 <= i < C for i in unseen):
            raise ValueError(f'TagCLIPHead.unseen_idx={list(unseen_idx)} has indices outside 0..{C - 1} '
                             f'(class_names has {C} names)')
        if len(unseen) == C:
            raise ValueError('TagCLIPHead.unseen_idx lists every class; at least one class must be seen')
        bad = [t for t in layer_types if t not in LAYER_TYPES]
        if not layer_types or bad:
            raise ValueError(f'TagCLIPHead.layer_types entries must be in {LAYER_TYPES}, got {list(layer_types)}')
        if trusty_eval not in TRUSTY_EVAL_MODES:
            raise ValueError(f'TagCLIPHead.trusty_eval must be one of {TRUSTY_EVAL_MODES}, got {trusty_eval!r}')
        if trusty_target not in TRUSTY_TARGETS:
            raise ValueError(f'TagCLIPHead.trusty_target must be one of {TRUSTY_TARGETS}, got {trusty_target!r}')
        if not use_trusty and trusty_eval != 'none':
            raise ValueError(f"TagCLIPHead: use_trusty=False has no trusty map to gate with; set trusty_eval='none' "
                             f"(got {trusty_eval!r})")
        dims = embed_dims or self.embed_dim
        if dims != self.embed_dim:
            raise ValueError(f'TagCLIPHead.embed_dims={dims} must equal the CLIP embedding width '
                             f'{self.embed_dim}: the decoder attends to the CLIP features unprojected')
        self.unseen_idx = unseen
        self.seen_idx = [i for i in range(C) if i not in unseen]
        self.use_trusty = use_trusty
        self.seen_bias = seen_bias
        self.trusty_eval = trusty_eval
        self.trusty_target = trusty_target
        self.self_training = self_training
        self.layer_types = tuple(layer_types)

        self.relationship = RelationshipDescriptor(dims)
        self.layers = nn.ModuleList(
            ATMDecoderLayer(dims, num_heads, ffn_ratio * dims, dropout, self_attn=(t == 'self+cross'))
            for t in layer_types)
        if use_trusty:
            self.trusty_token = nn.Parameter(torch.empty(1, dims))
        # Training classes and the label remap (dataset id -> training channel, 255 elsewhere).
        train_idx = list(range(C)) if self_training else self.seen_idx
        self.register_buffer('train_class_idx', torch.tensor(train_idx), persistent=False)
        lut = torch.full((256,), 255, dtype=torch.long)
        seen = torch.tensor(self.seen_idx)
        # Transductive: seen classes keep their ids (unseen pixels get pseudo-labels); inductive: seen -> 0..S-1.
        lut[seen] = seen if self_training else torch.arange(len(seen))
        self.register_buffer('label_lut', lut, persistent=False)
        self.register_buffer('unseen_ids', torch.tensor(unseen, dtype=torch.long), persistent=False)
        is_seen = torch.zeros(C, dtype=torch.bool)
        is_seen[self.seen_idx] = True
        self.register_buffer('is_seen', is_seen, persistent=False)
        self.reset_head()

    def reset_head(self):
        """The release's effective initialisation: xavier-uniform for every parameter with >= 2 dims (the trusty
        token included); biases keep PyTorch's defaults except the relationship descriptor's, which the release
        sets to 0; LayerNorms (1, 0)."""
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        nn.init.zeros_(self.relationship.proj.bias)

    def init_weights(self):
        # MMEngine's runner calls init_weights(); MMSeg's default (normal init of conv_seg) does not apply here.
        self.reset_head()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Refuse a checkpoint without this head's trained tensors (another method's), or without the trusty token
        # this config uses; a trusty token the config does not use is dropped (the transductive and cross-dataset
        # configs load inductive checkpoints so, as the release does). The class set is not in the tensors (queries
        # are CLIP text embeddings): a checkpoint tests on another vocabulary, as coco2voc20 does.
        check_head_checkpoint(self, state_dict, prefix, None,
                              'a TagCLIP / ZegCLIP checkpoint (tools/train.py configs/tagclip/...)',
                              hint='' if not self.use_trusty or prefix + 'trusty_token' in state_dict else
                              'The checkpoint has no trusty token (a ZegCLIP or transductive one?) and this config '
                              'uses it (model.decode_head.use_trusty=False to test without).')
        return super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------------------------------- forward
    def mask_logits(self, inputs, class_idx: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, C' [+1], h, w) mask logits at the feature grid for the classes ``class_idx`` (all if None), the
        trusty map last when ``use_trusty``."""
        # VPTCLIPViT's CLIPFeatures (a plain (dense, global) pair also works); the global embedding unit-norm
        dense, global_embed = (inputs.dense, inputs.global_embed) if hasattr(inputs, 'dense') else inputs[:2]
        global_embed = F.normalize(global_embed, dim=-1)
        B, D, h, w = dense.shape
        tokens = self.query_embeds if class_idx is None else self.query_embeds[class_idx]
        tokens = tokens.to(dense.dtype)
        if self.use_trusty:
            tokens = torch.cat([tokens, self.trusty_token.to(dense.dtype)], dim=0)
        x = self.relationship(global_embed, tokens)
        memory = dense.flatten(2).transpose(1, 2)
        logits = None
        for layer in self.layers:
            x, logits = layer(x, memory)  # only the last layer's masks are used (no deep supervision)
        return logits.reshape(B, -1, h, w)

    def forward(self, inputs):
        return self.mask_logits(inputs, None if self.self_training else self.train_class_idx)

    @staticmethod
    def upsample(logits: torch.Tensor, size) -> torch.Tensor:
        """Grid logits -> pixel logits: bilinear to the patch-aligned size, then cut to ``size`` (the padding the
        backbone added to reach whole patches goes)."""
        h, w = logits.shape[-2:]
        H, W = int(size[0]), int(size[1])
        stride_h, stride_w = -(-H // h), -(-W // w)
        logits = F.interpolate(logits, size=(h * stride_h, w * stride_w), mode='bilinear', align_corners=False)
        return logits[..., :H, :W]

    # ------------------------------------------------------------------------------------------ training
    def training_targets(self, raw: torch.Tensor, class_logits: torch.Tensor, padding: Optional[torch.Tensor] = None):
        """(B, H, W) dataset labels -> (training-channel targets, trusty targets or None). ``padding`` (B, H, W),
        True where the batch padding is: with ``trusty_target='not_seen'`` those pixels are left out of the trusty
        loss (``ignore_index``), as padding is not image; 'unseen_gt' keeps the release's 0 there."""
        target = self.label_lut[raw.long().clamp(0, 255)]
        seen = target != 255  # the remap keeps exactly the seen classes
        unseen = torch.isin(raw, self.unseen_ids)
        if self.self_training and self.unseen_idx:
            with torch.no_grad():
                probs = class_logits.detach().sigmoid()
                probs[:, self.is_seen] = -1  # the most likely unseen class, no threshold (ZegCLIP)
                pseudo = probs.argmax(dim=1)
            target = torch.where(unseen, pseudo, target)
        if not self.use_trusty:
            return target, None
        if self.trusty_target == 'unseen_gt':
            return target, unseen.long()
        trusty = (~seen).long()
        if padding is not None:
            trusty[padding] = self.ignore_index
        return target, trusty

    @staticmethod
    def padding_mask(raw: torch.Tensor, batch_data_samples: SampleList) -> torch.Tensor:
        """(B, H, W) True outside each sample's ``img_shape`` (the data preprocessor's padding)."""
        pad = torch.ones_like(raw, dtype=torch.bool)
        for b, sample in enumerate(batch_data_samples):
            h, w = sample.metainfo.get('img_shape', raw.shape[-2:])[:2]
            pad[b, :h, :w] = False
        return pad

    def loss(self, inputs, batch_data_samples: SampleList, train_cfg) -> dict:
        raw = torch.stack([s.gt_sem_seg.data[0] for s in batch_data_samples])
        logits = self.upsample(self.forward(inputs), raw.shape[-2:])
        class_logits = logits[:, :-1] if self.use_trusty else logits
        trusty_logits = logits[:, -1:] if self.use_trusty else None
        target, trusty_target = self.training_targets(raw, class_logits,
                                                      self.padding_mask(raw, batch_data_samples))
        losses = self.loss_decode(class_logits, target, trusty_logits, trusty_target)
        losses['acc_seg'] = accuracy(class_logits.detach(), target, ignore_index=self.ignore_index)
        return losses

    # ----------------------------------------------------------------------------------------- inference
    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """(B, C [+1], H, W) pixel logits over all classes -> (B, C, H, W) calibrated, gated scores."""
        class_logits = logits[:, :self.num_classes]
        scores = class_logits.sigmoid() - self.seen_bias * self.is_seen.to(logits.dtype)[:, None, None]
        if self.use_trusty and self.trusty_eval != 'none':
            w = logits[:, -1:].sigmoid()
            seen = self.is_seen[:, None, None]
            if self.trusty_eval in ('both', 'seen'):
                scores = torch.where(seen, scores * (1 - w), scores)
            if self.trusty_eval in ('both', 'unseen'):
                scores = torch.where(seen, scores, scores * w)
        return scores

    def predict(self, inputs, batch_img_metas: List[dict], test_cfg) -> torch.Tensor:
        # The network input's size, found as MMSeg's BaseDecodeHead.predict_by_feat finds it: slide inference
        # writes each window's size into img_shape as a torch.Size.
        meta = batch_img_metas[0]
        if isinstance(meta['img_shape'], torch.Size):
            size = meta['img_shape']
        else:
            size = meta['pad_shape'][:2] if 'pad_shape' in meta else meta['img_shape'][:2]
        logits = self.upsample(self.mask_logits(inputs), size)
        return self.scores(logits).contiguous(memory_format=torch.channels_last)
