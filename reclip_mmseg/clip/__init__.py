from .image_encoder import CLIPFeatures, CLIPViT
from .positions import interpolate_pos_embed
from .loader import TINY_MODEL_NAME, TINY_MODEL_NAMES, CLIPWeightsUnavailable, FrozenCLIPModule, load_clip
from .text_encoder import OpenCLIPTextEncoder
from .vocabularies import (TEMPLATE_SETS, VOCABULARIES, check_class_names, prompt_name, resolve_class_names,
                           resolve_templates)

__all__ = ['CLIPFeatures', 'CLIPViT', 'interpolate_pos_embed', 'OpenCLIPTextEncoder', 'FrozenCLIPModule', 'load_clip', 'TINY_MODEL_NAME', 'TINY_MODEL_NAMES',
           'CLIPWeightsUnavailable', 'VOCABULARIES', 'TEMPLATE_SETS', 'check_class_names', 'prompt_name',
           'resolve_class_names', 'resolve_templates']


def __getattr__(name):
    # Deprecation path for the old Python name; in configs `type='CLIPTextEncoder'` is MMSeg's own (SAN's) class,
    # which the plugin's heads translate with a warning (see models/heads.py).
    if name == 'CLIPTextEncoder':
        import warnings
        warnings.warn('reclip_mmseg.clip.CLIPTextEncoder was renamed OpenCLIPTextEncoder', DeprecationWarning,
                      stacklevel=2)
        return OpenCLIPTextEncoder
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
