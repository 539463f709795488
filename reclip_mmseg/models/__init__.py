from .bias import PositionalBiasProjector, ReferencePromptLearner, bias_logits
from .decoder import GumbelMask, RectifiedMaskDecoder
from .heads import BiasRectifiedHead, MaskCLIPHead, prompt_denoise
from .losses import FeatureDistillLoss, MaskedContrastiveLoss

__all__ = ['ReferencePromptLearner', 'PositionalBiasProjector', 'bias_logits', 'RectifiedMaskDecoder',
           'GumbelMask', 'BiasRectifiedHead', 'MaskCLIPHead', 'prompt_denoise', 'MaskedContrastiveLoss',
           'FeatureDistillLoss']
