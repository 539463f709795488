"""PAMR for the segmentor: the implementation lives in ``reclip_mmseg/utils/pamr.py``, where the image tower's
ResCLIP mode (``clip/``, which may not import ``models/``) reaches it too."""
from ...utils.pamr import pamr, pamr_affinity, pamr_propagate

__all__ = ['pamr', 'pamr_affinity', 'pamr_propagate']
