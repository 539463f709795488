"""Rewriting label PNGs through a lookup table: what the dataset converters (COCO-Stuff-27, COCO-Object) share."""
import os
from functools import partial
from typing import Sequence

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image


def convert_label_map(src: str, out_dir: str, lut: np.ndarray, suffix: str) -> str:
    """``lut[label]`` of the single-channel PNG ``src``, written atomically to ``out_dir/<name><suffix>``."""
    label = np.array(Image.open(src))
    if label.ndim != 2:
        raise ValueError(f'{src}: expected a single-channel COCO-Stuff label map, got shape {label.shape}')
    name = os.path.splitext(os.path.basename(src))[0]
    dst = os.path.join(out_dir, f'{name}{suffix}')
    tmp = dst + '.tmp.png'
    Image.fromarray(lut[label]).save(tmp)
    os.replace(tmp, dst)
    return dst


def convert_label_maps(files: Sequence[str], out_dir: str, lut: np.ndarray, suffix: str, nproc: int = 1) -> None:
    """``convert_label_map`` over ``files`` into ``out_dir`` (created), with a progress bar; ``nproc`` processes."""
    os.makedirs(out_dir, exist_ok=True)
    work = partial(convert_label_map, out_dir=out_dir, lut=lut, suffix=suffix)
    if nproc > 1:
        track_parallel_progress(work, list(files), nproc)
    else:
        track_progress(work, list(files))
