"""``LoadImageLevelLabels``: the image's multi-label hypothesis into the sample (docs/reclip_pp.md §5)."""
import json
import os
from typing import Dict, Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..clip.vocabularies import resolve_class_names
from .hypotheses import read_hypothesis_file

_FILES: Dict[str, tuple] = {}


@TRANSFORMS.register_module()
class LoadImageLevelLabels(BaseTransform):
    """Adds ``results['image_level_labels']`` (int64 class indices) looked up by the image's file name.

    Put ``'image_level_labels'`` in ``PackSegInputs``' ``meta_keys`` so it reaches the head.

    Args:
        hypothesis_file: JSON written by ``tools/gen_hypotheses.py``.
        class_names: the model's classes (a vocabulary key or a list); a file made for other classes is
            refused as stale.
        expected: the config's ``hypotheses`` settings (mode, window size / stride / cover / vote share, or
            threshold / top-K; the tools fill it in); a file made in another mode or with other settings is
            refused, naming both.
    """

    def __init__(self, hypothesis_file: str, class_names: Optional[Union[str, Sequence[str]]] = None,
                 expected: Optional[dict] = None):
        self.hypothesis_file = hypothesis_file
        self.class_names = None if class_names is None else list(resolve_class_names(class_names))
        self.expected = dict(expected) if expected else None

    def _labels(self) -> Dict[str, list]:
        path = os.path.abspath(self.hypothesis_file)
        mtime = os.path.getmtime(path) if os.path.isfile(path) else None
        # keyed by what the file is checked against too: a transform with other classes or settings checks again
        key = (path, tuple(self.class_names or ()), json.dumps(self.expected or {}, sort_keys=True))
        if key not in _FILES or _FILES[key][0] != mtime:
            _FILES[key] = (mtime, read_hypothesis_file(path, self.class_names, self.expected)['labels'])
        return _FILES[key][1]

    def transform(self, results: dict) -> dict:
        name = os.path.basename(results['img_path'])
        labels = self._labels()
        if name not in labels:
            raise KeyError(f'image {name} ({results["img_path"]}) has no entry in hypothesis file '
                           f'{self.hypothesis_file}: it was made for another image list; run '
                           f'`python tools/gen_hypotheses.py CONFIG` again')
        results['image_level_labels'] = np.asarray(labels[name], dtype=np.int64)
        return results

    def __repr__(self):
        return f'{type(self).__name__}(hypothesis_file={self.hypothesis_file!r})'
