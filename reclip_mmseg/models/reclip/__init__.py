"""ReCLIP (CVPR 2024), the conference version (docs/reclip_pp.md §12): an image-dependent class bias and a
positional bias net, on ReCLIP++'s rectification base. Its distillation is ReCLIP++'s distiller with other
settings (configs/reclip/)."""
from .head import DependentBiasHead, PositionalBiasNet

__all__ = ['DependentBiasHead', 'PositionalBiasNet']
