"""Where the shipped configs are, in a source checkout and in an installed package (OpenMMLab's way: ``pip
install .`` copies ``configs/`` into ``reclip_mmseg/.mim/configs``), so that a config path such as
``configs/reclip_pp/...`` (a distillation teacher, a tool's argument) resolves from any working directory."""
import os
from typing import List, Optional

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config_roots() -> List[str]:
    """Folders that hold a ``configs/`` tree: the source checkout around the package, then the package's ``.mim``."""
    roots = [os.path.dirname(PACKAGE_DIR), os.path.join(PACKAGE_DIR, '.mim')]
    return [r for r in roots if os.path.isdir(os.path.join(r, 'configs'))]


def find_config(path: str) -> Optional[str]:
    """``path`` if it is a file, else the shipped config of that relative path (``configs/...``), else None."""
    if os.path.isfile(path):
        return path
    if not os.path.isabs(path):
        for root in config_roots():
            candidate = os.path.join(root, path)
            if os.path.isfile(candidate):
                return candidate
    return None
