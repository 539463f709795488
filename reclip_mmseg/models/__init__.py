"""Decode heads and segmentors, one folder per method: ``training_free/`` (MaskCLIP head, segmentor, PAMR),
``reclip_pp/`` (ReCLIP++ and the distillation stage), ``reclip/`` (ReCLIP, CVPR), ``tagclip/`` (TagCLIP, ZegCLIP);
``text_head.py`` is the CLIP text-head base they share."""
from .checkpoint_checks import check_head_checkpoint, checkpoint_kind, method_of_head
from .reclip import DependentBiasHead, PositionalBiasNet
from .reclip_pp import (BiasRectifiedHead, DeepLabV2Head, FeatureDistillLoss, GumbelMask, MaskedContrastiveLoss,
                        PositionalBiasProjector, ReCLIPDistiller, RectificationHead, RectifiedDistillHead,
                        RectifiedMaskDecoder, ReferencePromptLearner, bias_logits, build_teacher)
from .tagclip import TagCLIPCriterion, TagCLIPHead, VPTCLIPViT
from .text_head import CLIPTextHead, prompt_denoise
from .training_free import CLIPSegmentor, MaskCLIPHead, apply_background_threshold, pamr

__all__ = ['CLIPTextHead', 'prompt_denoise', 'check_head_checkpoint', 'checkpoint_kind', 'method_of_head',
           'MaskCLIPHead', 'CLIPSegmentor', 'apply_background_threshold', 'pamr',
           'RectificationHead', 'BiasRectifiedHead', 'ReferencePromptLearner', 'PositionalBiasProjector',
           'bias_logits', 'RectifiedMaskDecoder', 'GumbelMask', 'MaskedContrastiveLoss', 'FeatureDistillLoss',
           'DeepLabV2Head', 'RectifiedDistillHead', 'ReCLIPDistiller', 'build_teacher',
           'DependentBiasHead', 'PositionalBiasNet', 'TagCLIPCriterion', 'TagCLIPHead', 'VPTCLIPViT']
