"""ReCLIP++ distillation stage (docs/reclip_pp.md §8): a DeepLab V2 student that inherits the rectified head, frozen."""
import copy
import os
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import load_checkpoint
from mmengine.runner.checkpoint import _load_checkpoint
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import SampleList

from ...clip.image_encoder import interpolate_pos_embed
from ...clip.loader import clip_vit_dims
from ...clip.vocabularies import resolve_class_names
from ...utils.lru import GridCache
from ...utils.paths import config_roots, find_config
from .bias import PositionalBiasProjector, bias_logits
from ..checkpoint_checks import check_head_checkpoint
from ..text_head import check_same_clip
from .rectification import RectificationHead

# What every rectification checkpoint holds (ReCLIP++'s and ReCLIP's): the Reference context.
INHERITED_KEYS = ('decode_head.prompt_learner.context', )
STUDENT_CLASSIFIERS = ('rmg', 'query_bias', 'query', 'query_minus_reference')
# RectifiedDistillHead arguments that are dimensions of the teacher's CLIP (None in a config: taken from it).
STUDENT_DIMS = dict(channels='embed_dim', clip_width='width', clip_positions='positions')
TEACHER_KEYS = {'config', 'checkpoint', 'cfg_options', 'clip', 'norm_stats'}
# How the teacher's BatchNorms normalise: 'running' (eval mode: stored statistics) or 'batch' (ReCLIP's release runs
# its teacher in train() mode, so its positional-bias net normalises with the statistics of the current map).
TEACHER_NORM_STATS = ('running', 'batch')


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """ASPP-v2: four parallel 3×3 convs with dilations 6/12/18/24 on the last backbone stage, summed.

    ``forward_features`` gives the ``channels``-d features (the student's ``F_s``); ``forward`` classifies them
    with a 1×1 conv, so the head also works as a plain MMSeg decode head (the paper's 'own head' ablation,
    trained on the teacher's pseudo labels by ``ReCLIPDistiller``). Each branch is a conv with bias (ReCLIP++), or,
    with a ``norm_cfg``, conv without bias + norm + ``act_cfg`` (ReCLIP's release: BN, ReLU).
    """

    def __init__(self, dilations: Sequence[int] = (6, 12, 18, 24), **kwargs):
        super().__init__(**kwargs)
        if self.norm_cfg is None:
            self.aspp = nn.ModuleList(
                nn.Conv2d(self.in_channels, self.channels, 3, padding=d, dilation=d, bias=True) for d in dilations)
        else:
            self.aspp = nn.ModuleList(
                ConvModule(self.in_channels, self.channels, 3, padding=d, dilation=d, bias=False,
                           norm_cfg=self.norm_cfg, act_cfg=self.act_cfg) for d in dilations)

    def loss_distill(self, inputs, pseudo_labels: torch.Tensor, teacher_feats: torch.Tensor,
                     image_labels: List[torch.Tensor]) -> dict:
        """Own head (Table IX, first row): the head's ``loss_decode`` (CE) against the teacher's pseudo labels."""
        logits = F.interpolate(self.forward(inputs), size=pseudo_labels.shape[-2:], mode='bilinear',
                               align_corners=self.align_corners)
        return {self.loss_decode.loss_name: self.loss_decode(logits, pseudo_labels, ignore_index=self.ignore_index)}

    def forward_features(self, inputs) -> torch.Tensor:
        x = self._transform_inputs(inputs)
        return sum(branch(x) for branch in self.aspp)

    def forward(self, inputs):
        return self.cls_seg(self.forward_features(inputs))


@MODELS.register_module()
class RectifiedDistillHead(BaseDecodeHead):
    """Student head: ``Z_s = decoder([F̂_s, F̂_s·T_q − L_b])`` with ``F̂_s`` the L2-normalised ASPP-v2 features and
    the Query embeddings ``T_q``, the Reference features ``R̂``, the positional projector and the mask decoder
    inherited from the rectification checkpoint and frozen. ``L_b`` is formed at the student's grid from CLIP's
    positional embedding (kept as a buffer), so a student checkpoint needs neither CLIP nor the teacher.

    ``classifier`` chooses what is inherited (the paper's Table IX and ReCLIP's student):
    'rmg' (ReCLIP++, above), 'query_bias' (``F̂_s·T_q − L_b``, no decoder), 'query' (``F̂_s·T_q``),
    'query_minus_reference' (ReCLIP's release: ``F̂_s·T_q − F̂_s·R̂``, nothing positional, nothing learnable after
    the ASPP). Only what the classifier uses is built and kept in the checkpoint.

    ``channels`` (the teacher's embedding dimension: T_q and R̂ live there), ``clip_width`` and ``clip_positions``
    (the teacher's CLIP vision width and positional-embedding length) are dimensions of the teacher's CLIP;
    ``ReCLIPDistiller`` fills them from the teacher config when they are ``None`` (the shipped configs).

    Losses (weights in the configs): mask-guided CE against the teacher's pseudo labels (``loss_decode``),
    feature-guided L1 to the teacher's CLIP features (``loss_feat``), text-guided masked contrastive loss on the
    student's features and Gumbel masks (``loss_text``); set a weight to 0 to switch one off.
    """

    def __init__(self, class_names: Union[str, Sequence[str]] = 'voc20', in_channels: int = 2048,
                 channels: Optional[int] = 512, aspp: dict = dict(dilations=(6, 12, 18, 24)),
                 clip_width: Optional[int] = 768, clip_positions: Optional[int] = 197, classifier: str = 'rmg',
                 gumbel: dict = dict(type='GumbelMask', scale=100.0, tau=1.0),
                 loss_decode: dict = dict(type='CrossEntropyLoss', loss_weight=1.0, loss_name='loss_mask'),
                 loss_feat: dict = dict(type='FeatureDistillLoss', loss_weight=0.5, loss_name='loss_feat'),
                 loss_text: dict = dict(type='MaskedContrastiveLoss', loss_weight=0.5, loss_name='loss_text'),
                 **kwargs):
        names = resolve_class_names(class_names)
        if classifier not in STUDENT_CLASSIFIERS:
            raise ValueError(f'RectifiedDistillHead.classifier must be one of {STUDENT_CLASSIFIERS}, got {classifier!r}')
        unset = [k for k, v in dict(channels=channels, clip_width=clip_width, clip_positions=clip_positions).items()
                 if v is None]
        if unset:
            raise ValueError(f'RectifiedDistillHead: {unset} are None, i.e. "take them from the teacher\'s CLIP", '
                             f'which only ReCLIPDistiller (with model.teacher.config set) can do; set '
                             f'model.teacher.config, or give model.decode_head.{unset[0]} explicitly')
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs.setdefault('init_cfg', None)
        super().__init__(in_channels=in_channels, channels=channels, num_classes=len(names),
                         loss_decode=loss_decode, **kwargs)
        del self.conv_seg  # classification is the inherited mask decoder's
        self.class_names = names
        self.classifier = classifier
        self.aspp = DeepLabV2Head(in_channels=in_channels, channels=channels, num_classes=len(names),
                                  in_index=self.in_index, dropout_ratio=0.0, init_cfg=None, **aspp)
        del self.aspp.conv_seg  # only its features are used here
        self.gumbel = MODELS.build(gumbel)
        self.loss_feat = MODELS.build(loss_feat)
        self.loss_text = MODELS.build(loss_text)
        # Inherited, frozen (filled from the teacher by inherit_from; then carried by student checkpoints).
        self.register_buffer('query_embeds', torch.zeros(len(names), channels))
        if classifier != 'query':
            self.register_buffer('reference', torch.zeros(len(names), channels))
        self.register_buffer('inherited', torch.zeros((), dtype=torch.bool))
        self.bias_projector = self.mask_decoder = None
        if classifier in ('rmg', 'query_bias'):
            self.register_buffer('clip_pos_embed', torch.zeros(clip_positions, clip_width))
            self.bias_projector = nn.Conv2d(clip_width, channels, 1)
        if classifier == 'rmg':  # same shape as the rectified decoder; weights from inherit_from or a checkpoint
            self.mask_decoder = MODELS.build(dict(type='RectifiedMaskDecoder', feat_channels=channels,
                                                  num_classes=len(names), kernel_size=5))
        self._freeze_inherited()
        self._bias_cache = GridCache()

    def _freeze_inherited(self):
        for module in (self.bias_projector, self.mask_decoder):
            if module is not None:
                module.requires_grad_(False).eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_inherited()  # the inherited decoder's BN keeps its running statistics
        self._bias_cache.clear()
        return self

    @torch.no_grad()
    def inherit_from(self, teacher_head: RectificationHead) -> None:
        """Copy T_q, R̂, CLIP's positional embedding, the projector and the decoder from the rectified head."""
        if list(teacher_head.class_names) != list(self.class_names):
            raise ValueError(f'the teacher was trained for classes {list(teacher_head.class_names)}, the student '
                             f'config names {list(self.class_names)}')
        query = teacher_head.current_query_embeds()
        if query.shape != self.query_embeds.shape:
            raise ValueError(f'RectifiedDistillHead: the teacher\'s Query embeddings are {tuple(query.shape)} (its '
                             f'CLIP\'s embedding dimension is {query.shape[1]}), the student head has channels='
                             f'{self.channels}; leave model.decode_head.channels=None to take it from the teacher')
        self.query_embeds.copy_(query)
        if self.classifier != 'query':
            self.reference.copy_(teacher_head.prompt_learner())
        if self.classifier in ('rmg', 'query_bias'):
            self._inherit_positional_bias(teacher_head)
        self.inherited.fill_(True)
        self._bias_cache.clear()

    def _inherit_positional_bias(self, teacher_head) -> None:
        if not isinstance(teacher_head.bias_projector, PositionalBiasProjector) or (
                self.classifier == 'rmg' and teacher_head.mask_decoder is None):
            raise ValueError(f"RectifiedDistillHead(classifier='{self.classifier}') inherits ReCLIP++'s positional "
                             f'bias projector{" and mask decoder" if self.classifier == "rmg" else ""}, which the '
                             f'teacher ({type(teacher_head).__name__}) does not have; a ReCLIP teacher takes '
                             f"classifier='query_minus_reference' or 'query' (configs/reclip/*_distill.py)")
        pos = teacher_head.text_encoder.clip_model.visual.positional_embedding
        if tuple(pos.shape) != tuple(self.clip_pos_embed.shape):
            raise ValueError(f'RectifiedDistillHead: clip_positions/clip_width {tuple(self.clip_pos_embed.shape)} '
                             f'do not match the teacher CLIP positional embedding {tuple(pos.shape)}; leave '
                             f'model.decode_head.clip_positions/clip_width=None to take them from the teacher')
        self.clip_pos_embed.copy_(pos)
        self.bias_projector.load_state_dict(teacher_head.bias_projector.proj.state_dict())
        if self.classifier == 'rmg':
            self.mask_decoder = copy.deepcopy(teacher_head.mask_decoder)
        self._freeze_inherited()

    def student_bias_logits(self, h: int, w: int) -> torch.Tensor:
        key = (h, w, self.reference.device)

        def make():
            pos = interpolate_pos_embed(self.clip_pos_embed, h, w)[1:].t().reshape(1, -1, h, w)
            return bias_logits(self.bias_projector(pos), self.reference)
        return self._bias_cache.get(key, make)

    def features(self, inputs) -> torch.Tensor:
        return F.normalize(self.aspp.forward_features(inputs), dim=1)

    def decode(self, feats: torch.Tensor) -> torch.Tensor:
        query = torch.einsum('bdhw,cd->bchw', feats, self.query_embeds)
        if self.classifier == 'query':
            return query
        if self.classifier == 'query_minus_reference':
            return query - torch.einsum('bdhw,cd->bchw', feats, self.reference)
        rectified = query - self.student_bias_logits(*feats.shape[-2:])
        return rectified if self.mask_decoder is None else self.mask_decoder(feats, rectified)

    def forward(self, inputs):
        if not bool(self.inherited):
            raise RuntimeError('RectifiedDistillHead has not inherited the rectified head: train it with '
                               'ReCLIPDistiller (which copies it from the teacher) or load a student checkpoint')
        return self.decode(self.features(inputs))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        self._bias_cache.clear()
        check_head_checkpoint(self, state_dict, prefix, 'query_embeds',
                              f"a distillation (student) checkpoint with classifier='{self.classifier}' "
                              f'(tools/train.py configs/reclip_pp/*_distill.py or configs/reclip/*_distill.py)')
        if not any(k.startswith(prefix + 'aspp.aspp.0.') for k in state_dict):
            raise ValueError(f'RectifiedDistillHead: the checkpoint has no student weights ({prefix}aspp.*); '
                             f'expected a distillation checkpoint - a rectification checkpoint is tested with its '
                             f'own config (configs/reclip_pp/*_rectify.py)')
        return super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def loss_distill(self, inputs, pseudo_labels: torch.Tensor, teacher_feats: torch.Tensor,
                     image_labels: List[torch.Tensor]) -> dict:
        feats = self.features(inputs)
        logits = self.decode(feats)
        size = pseudo_labels.shape[-2:]
        losses = {}
        up = F.interpolate(logits, size=size, mode='bilinear', align_corners=self.align_corners)
        losses[self.loss_decode.loss_name] = self.loss_decode(up, pseudo_labels, ignore_index=self.ignore_index)
        losses[self.loss_feat.loss_name] = self.loss_feat(feats, teacher_feats, size)
        losses[self.loss_text.loss_name] = self.loss_text(feats, self.gumbel(logits), self.query_embeds, image_labels)
        return losses


@MODELS.register_module()
class ReCLIPDistiller(EncoderDecoder):
    """Student ``EncoderDecoder`` with a frozen teacher built from a rectification config + checkpoint.

    The teacher is built at the first training step (testing a student checkpoint needs no teacher), runs
    online on the same augmented batch, and is never part of the student's state dict. On a fresh start the
    student head inherits the teacher's Query embeddings, bias and decoder; a resumed or tested student
    carries them in its own checkpoint.

    Args:
        teacher: dict(config=rectification config path, checkpoint=its checkpoint, cfg_options=overrides of the
            teacher config, clip=CLIP options given to every ``clip`` of the teacher config at once, e.g.
            ``dict(model_name='reclip-tiny', pretrained=None)`` offline or ``dict(model_name='ViT-L-14',
            pretrained='/path/ViT-L-14.pt')``), norm_stats='running' (the teacher's BatchNorms use their stored
            statistics) or 'batch' (ReCLIP's release: its teacher runs in train() mode, so the positional-bias
            net normalises with the current map's statistics). The student head's ``channels`` / ``clip_width`` /
            ``clip_positions`` left ``None`` are read from that CLIP's architecture (no weights loaded).
        ignore_label_pixels: pixels whose label is the head's ``ignore_index`` (255: ignored / background after
            ``reduce_zero_label``, and the batch padding) get no pseudo label, as in the release (docs/reclip_pp.md §8); the
            label's classes are never read. Needs ``LoadAnnotations`` in the train pipeline (the dataset bases'
            ``distill_train_pipeline``). False: every pixel gets the teacher's label.
    """

    def __init__(self, teacher: dict, decode_head: dict, ignore_label_pixels: bool = True, **kwargs):
        teacher = dict(teacher)
        unknown = sorted(set(teacher) - TEACHER_KEYS)
        if unknown:
            raise ValueError(f'model.teacher has unknown keys {unknown}; it takes {sorted(TEACHER_KEYS)}')
        check_norm_stats(teacher.get('norm_stats', 'running'))  # at build, not at the first step
        super().__init__(decode_head=student_head_from_teacher(decode_head, teacher), **kwargs)
        self.teacher_cfg = teacher
        self.ignore_label_pixels = ignore_label_pixels
        self.__dict__['_teacher'] = None  # outside the module tree: never in checkpoints, optimisers or DDP

    def _apply(self, fn, *args, **kwargs):
        if self.__dict__.get('_teacher') is not None:
            self.__dict__['_teacher']._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    @property
    def teacher(self):
        if self.__dict__['_teacher'] is None:
            self.__dict__['_teacher'] = build_teacher(**self.teacher_cfg).to(next(self.parameters()).device)
        return self.__dict__['_teacher']

    def init_weights(self):
        try:  # the backbone first, so that only its (ImageNet) initialisation is blamed below
            self.backbone.init_weights()
        except Exception as err:  # noqa: BLE001 - a download or file error surfaces here
            init = getattr(self.backbone, 'init_cfg', None)
            raise RuntimeError(
                f"could not initialise the student backbone from {init}: {type(err).__name__}: {err}. The student "
                f"starts from ImageNet weights (MMSeg's open-mmlab://resnet101_v1c). Offline, download that file "
                f"elsewhere and set model.backbone.init_cfg.checkpoint=/path/resnet101_v1c.pth, or set "
                f"model.backbone.init_cfg=None to start from scratch.") from err
        super().init_weights()  # the rest (an initialised backbone is skipped)

    @torch.no_grad()
    def teacher_outputs(self, inputs: torch.Tensor):
        """(pseudo labels (B, H, W) from the teacher's own predict path on these exact inputs, teacher CLIP
        features F (B, D, h, w)). The teacher's ViT runs once: its output feeds both (MMSeg's whole-image
        ``predict`` written out: backbone, decode head's ``predict``, ``postprocess_result``)."""
        teacher = self.teacher
        H, W = inputs.shape[-2:]
        metas = [SegDataSample(metainfo=dict(img_shape=(H, W), pad_shape=(H, W), ori_shape=(H, W),
                                             padding_size=[0, 0, 0, 0])) for _ in range(inputs.shape[0])]
        if teacher.test_cfg.get('mode', 'whole') != 'whole':  # sliding windows: the features are another pass
            preds = teacher.predict(inputs, metas)
            dense = teacher.backbone(inputs).dense
        else:
            features = teacher.backbone(inputs)
            seg_logits = teacher.decode_head.predict(teacher.neck(features) if teacher.with_neck else features,
                                                     [m.metainfo for m in metas], teacher.test_cfg)
            preds = teacher.postprocess_result(seg_logits, metas)
            dense = features.dense
        labels = torch.stack([p.pred_sem_seg.data[0] for p in preds]).long()
        return labels, dense

    def drop_ignored_pixels(self, pseudo: torch.Tensor, data_samples: SampleList) -> torch.Tensor:
        """``pseudo`` (B, H, W) with the head's ``ignore_index`` wherever the sample's label map has it."""
        ignore = self.decode_head.ignore_index
        out = pseudo.clone()
        for b, sample in enumerate(data_samples):
            if 'gt_sem_seg' not in sample:
                raise KeyError(
                    f"ReCLIPDistiller: training sample {sample.metainfo.get('img_path', '?')} has no label map, so "
                    f"the ignored pixels (255) cannot be left out of the pseudo labels as the release does. Put "
                    f"dict(type='LoadAnnotations') in the train pipeline (the dataset bases' distill_train_pipeline, "
                    f"used by configs/reclip*/*_distill.py), or set model.ignore_label_pixels=False to label every "
                    f"pixel.")
            gt = sample.gt_sem_seg.data[0].to(pseudo.device)
            if gt.shape != pseudo.shape[-2:]:
                raise ValueError(f'ReCLIPDistiller: label map {tuple(gt.shape)} of '
                                 f"{sample.metainfo.get('img_path', '?')} differs from the input {tuple(pseudo.shape[-2:])}")
            out[b][gt == ignore] = ignore
        return out

    def loss(self, inputs: torch.Tensor, data_samples: SampleList) -> dict:
        head = self.decode_head
        if hasattr(head, 'inherit_from') and not bool(head.inherited):  # DeepLabV2Head (own head) inherits nothing
            head.inherit_from(self.teacher.decode_head)
        pseudo, teacher_feats = self.teacher_outputs(inputs)
        if self.ignore_label_pixels:
            pseudo = self.drop_ignored_pixels(pseudo, data_samples)
        x = self.extract_feat(inputs)
        image_labels = [RectificationHead.image_level_labels(s) for s in data_samples]
        losses = head.loss_distill(x, pseudo, teacher_feats, image_labels)
        return {f'decode.{k}': v for k, v in losses.items()}


def check_norm_stats(norm_stats: str) -> None:
    if norm_stats not in TEACHER_NORM_STATS:
        raise ValueError(f'model.teacher.norm_stats must be one of {TEACHER_NORM_STATS}, got {norm_stats!r}')


def resolve_teacher_config(config: Optional[str]) -> str:
    """The teacher config file: as given, else the shipped config of that relative path (from a source checkout
    or an installed package), so the shipped relative paths (``configs/reclip_pp/...``) work from any directory."""
    if not config:
        raise ValueError('model.teacher.config is not set: name the rectification config the teacher was trained '
                         'with (e.g. configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py)')
    found = find_config(config)
    if found is None:
        raise FileNotFoundError(f'teacher config {config} does not exist (model.teacher.config), neither from the '
                                f'working directory nor among the shipped configs ({", ".join(config_roots())})')
    return found


def _set_clip_options(node, clip: dict) -> int:
    """Update every ``clip`` dict below ``node`` with ``clip``; return how many were updated."""
    count = 0
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'clip' and isinstance(value, dict):
                value.update(clip)
                count += 1
            else:
                count += _set_clip_options(value, clip)
    elif isinstance(node, (list, tuple)):
        count += sum(_set_clip_options(v, clip) for v in node)
    return count


def teacher_config(config: Optional[str], cfg_options: Optional[dict] = None, clip: Optional[dict] = None) -> Config:
    """The teacher's rectification config with ``cfg_options`` merged and ``clip`` given to each of its CLIP
    users (image backbone, text encoder), so one option switches the teacher's CLIP everywhere."""
    path = resolve_teacher_config(config)
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if clip and not _set_clip_options(cfg.model, dict(clip)):
        raise ValueError(f'model.teacher.clip={dict(clip)} was given but teacher config {path} has no `clip` '
                         f'settings in its model to apply it to')
    return cfg


def teacher_clip_dims(cfg: Config, config: str) -> dict:
    """``STUDENT_DIMS`` of the teacher config's CLIP (its image backbone's), from the architecture alone."""
    clip = (cfg.model.get('backbone') or {}).get('clip') or {}
    try:
        dims = clip_vit_dims(clip.get('model_name', 'ViT-B-16'))
    except ValueError as err:
        raise ValueError(f'teacher config {config}: {err}') from err
    return {arg: dims[key] for arg, key in STUDENT_DIMS.items()}


def student_head_from_teacher(decode_head: dict, teacher: dict) -> dict:
    """``decode_head`` with the dimensions a ``RectifiedDistillHead`` leaves ``None`` read from the teacher's
    CLIP; explicit values are kept (``inherit_from`` checks them against the built teacher)."""
    head = dict(decode_head)
    head_class = MODELS.get(head.get('type'))
    if not (isinstance(head_class, type) and issubclass(head_class, RectifiedDistillHead)):
        return head
    unset = [k for k in STUDENT_DIMS if k in head and head[k] is None]
    if unset:
        cfg = teacher_config(teacher.get('config'), teacher.get('cfg_options'), teacher.get('clip'))
        dims = teacher_clip_dims(cfg, teacher.get('config'))
        head.update({k: dims[k] for k in unset})
        print_log(f"RectifiedDistillHead: {', '.join(f'{k}={dims[k]}' for k in unset)} from the teacher's CLIP "
                  f"'{cfg.model.backbone.clip.get('model_name', 'ViT-B-16')}' ({teacher.get('config')})",
                  logger='current')
    return head


def build_teacher(config: str, checkpoint: Optional[str], cfg_options: Optional[dict] = None,
                  clip: Optional[dict] = None, norm_stats: str = 'running') -> nn.Module:
    """The frozen rectified model of ``config`` with the weights of ``checkpoint``; ``cfg_options`` and ``clip``
    as in ``teacher_config``. ``norm_stats='batch'`` keeps its BatchNorms normalising with batch statistics (ReCLIP's
    release); everything else stays in eval mode. Refuses checkpoints of another stage or class count with a
    message that says what it expected."""
    config = resolve_teacher_config(config)
    if not checkpoint or not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'teacher checkpoint {checkpoint!r} does not exist (model.teacher.checkpoint): train '
                                f'the rectification stage first with tools/train.py {config}')
    cfg = teacher_config(config, cfg_options, clip)
    head_class = MODELS.get(cfg.model.decode_head.type)
    if not (isinstance(head_class, type) and issubclass(head_class, RectificationHead)):
        raise ValueError(f'teacher config {config} has a {cfg.model.decode_head.type}; the teacher must be a '
                         f'rectification config (BiasRectifiedHead or DependentBiasHead)')
    state = _load_checkpoint(checkpoint, map_location='cpu')
    state = state.get('state_dict', state)
    missing = [k for k in INHERITED_KEYS if k not in state]
    if missing:
        kind = 'a distillation (student) checkpoint' if any(k.startswith('backbone.layer') for k in state) else \
            'not a rectification checkpoint'
        raise ValueError(f'teacher checkpoint {checkpoint} is {kind}: expected the rectification stage\'s '
                         f'{list(INHERITED_KEYS)}, found keys such as {sorted(state)[:4]}. Point '
                         f'model.teacher.checkpoint at a checkpoint of tools/train.py {config}.')
    teacher = MODELS.build(cfg.model)
    check_same_clip(teacher)
    n = state['decode_head.' + teacher.decode_head.class_count_key].shape[0]
    if n != teacher.decode_head.num_classes:
        raise ValueError(f'teacher checkpoint {checkpoint} was trained for {n} classes but {config} has '
                         f'{teacher.decode_head.num_classes}')
    load_checkpoint(teacher, checkpoint, map_location='cpu', strict=True)
    check_norm_stats(norm_stats)
    teacher.requires_grad_(False).eval()
    if norm_stats == 'batch':  # train() only for the norms: the prediction path has no other train-mode behaviour
        batch_norms = [m for m in teacher.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in batch_norms:
            m.train()
            m.momentum = 0.0  # the stored statistics stay those of the checkpoint
    teacher.train = lambda mode=True: teacher  # the student's train()/eval() never reaches the teacher
    return teacher
