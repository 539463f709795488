from .bias import PositionalBiasProjector, ReferencePromptLearner, bias_logits
from .decoder import GumbelMask, RectifiedMaskDecoder
from .dependent_bias import DependentBiasHead, PositionalBiasNet
from .distill import DeepLabV2Head, ReCLIPDistiller, RectifiedDistillHead, build_teacher
from .heads import BiasRectifiedHead, MaskCLIPHead, prompt_denoise
from .losses import FeatureDistillLoss, MaskedContrastiveLoss
from .pamr import pamr
from .segmentor import CLIPSegmentor, apply_background_threshold
from .tagclip import TagCLIPCriterion, TagCLIPHead, VPTCLIPViT

__all__ = ['DependentBiasHead', 'PositionalBiasNet', 'DeepLabV2Head', 'RectifiedDistillHead', 'ReCLIPDistiller', 'build_teacher', 'ReferencePromptLearner', 'PositionalBiasProjector', 'bias_logits', 'RectifiedMaskDecoder',
           'GumbelMask', 'BiasRectifiedHead', 'MaskCLIPHead', 'prompt_denoise', 'MaskedContrastiveLoss',
           'FeatureDistillLoss', 'pamr', 'CLIPSegmentor', 'apply_background_threshold',
           'TagCLIPCriterion', 'TagCLIPHead', 'VPTCLIPViT']
