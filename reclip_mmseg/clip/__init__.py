from .image_encoder import CLIPFeatures, CLIPViT, interpolate_pos_embed
from .loader import TINY_MODEL_NAME, CLIPWeightsUnavailable, FrozenCLIPModule, load_clip
from .text_encoder import CLIPTextEncoder
from .vocabularies import (TEMPLATE_SETS, VOCABULARIES, check_class_names, prompt_name, resolve_class_names,
                           resolve_templates)

__all__ = ['CLIPFeatures', 'CLIPViT', 'interpolate_pos_embed', 'CLIPTextEncoder', 'FrozenCLIPModule', 'load_clip', 'TINY_MODEL_NAME',
           'CLIPWeightsUnavailable', 'VOCABULARIES', 'TEMPLATE_SETS', 'check_class_names', 'prompt_name',
           'resolve_class_names', 'resolve_templates']
