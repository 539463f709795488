"""The training-free dense CLIP family (docs/training_free.md): the MaskCLIP Query head, the segmentor with the
background rule and PAMR, and the authors' protocols' segmentors (``AuthorsCLIPSegmentor``; CLIPer's
``CLIPerAuthorsSegmentor`` with its ``CLIPerHead``). The dense modes themselves live in the frozen image tower
(``clip/``)."""
from .head import MaskCLIPHead
from .pamr import pamr
from .segmentor import CLIPSegmentor, apply_background_threshold
from .authors import AuthorsCLIPSegmentor
from .cliper_authors import CLIPerAuthorsSegmentor, CLIPerHead

__all__ = ['MaskCLIPHead', 'pamr', 'CLIPSegmentor', 'apply_background_threshold', 'AuthorsCLIPSegmentor',
           'CLIPerAuthorsSegmentor', 'CLIPerHead']
