"""ReCLIP++ (docs/reclip_pp.md): the Reference prompt learner and positional bias projector, the rectified mask
decoder with its Gumbel mask, the rectification head and loss, and the distillation stage (student head and
distiller), which ReCLIP's configs use too."""
from .bias import PositionalBiasProjector, ReferencePromptLearner, bias_logits
from .decoder import GumbelMask, RectifiedMaskDecoder
from .distill import DeepLabV2Head, ReCLIPDistiller, RectifiedDistillHead, build_teacher
from .head import BiasRectifiedHead
from .losses import FeatureDistillLoss, MaskedContrastiveLoss
from .rectification import RectificationHead

__all__ = ['ReferencePromptLearner', 'PositionalBiasProjector', 'bias_logits', 'GumbelMask', 'RectifiedMaskDecoder',
           'DeepLabV2Head', 'ReCLIPDistiller', 'RectifiedDistillHead', 'build_teacher', 'BiasRectifiedHead',
           'FeatureDistillLoss', 'MaskedContrastiveLoss', 'RectificationHead']
