"""ReCLIP++ as an MMSegmentation 1.x plugin.

Importing this package registers every public name (docs/api.md lists them) in MMSeg's registries (scope ``mmseg``);
configs only need ``custom_imports=dict(imports=['reclip_mmseg'], allow_failed_imports=False)``.
"""
from .utils.compat import make_checkpoint_writes_atomic, register_checkpoint_safe_globals

register_checkpoint_safe_globals()
make_checkpoint_writes_atomic()

from . import clip  # noqa: E402,F401
from . import datasets  # noqa: E402,F401
from . import engine  # noqa: E402,F401
from . import evaluation  # noqa: E402,F401
from . import models  # noqa: E402,F401

__version__ = '0.1.0'
