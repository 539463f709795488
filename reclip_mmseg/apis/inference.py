"""Single-image inference helpers for tools/image_demo.py and tools/visualize_bias.py (MMSeg's APIs under)."""
import colorsys
from typing import List, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config
from mmseg.apis import init_model

from ..clip.vocabularies import VOCABULARIES, resolve_class_names
from ..models.text_head import check_same_clip


def init_segmentor(config: str, checkpoint: Optional[str] = None, classes: Optional[Sequence[str]] = None,
                   device: str = 'cpu', cfg_options: Optional[dict] = None, dense_mode: Optional[str] = None):
    """MMSeg's ``init_model`` with the class list handled: any names for a training-free (MaskCLIP) config,
    exactly the trained names for a checkpoint (a clear error otherwise). ``dense_mode`` sets
    ``model.backbone.dense_mode`` (CLIPViT's last-block mode, e.g. 'naclip')."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if dense_mode is not None:
        cfg.model.backbone.dense_mode = dense_mode
    head = cfg.model.decode_head
    trained = list(resolve_class_names(head.class_names))
    if classes is not None:
        classes = list(resolve_class_names(classes))
        if checkpoint is not None and classes != trained:
            raise ValueError(f'{checkpoint} was trained for the classes of {config} ({len(trained)}: {trained}); '
                             f'--classes gave {classes}. Leave --classes out, or use a training-free config '
                             f'(configs/training_free/*.py) for other classes.')
        if head.type != 'MaskCLIPHead' and checkpoint is None and classes != trained:
            raise ValueError(f'{config} is trained per class set; without a checkpoint only a MaskCLIP config '
                             f'takes arbitrary --classes')
        head.class_names = classes
    names = classes or trained
    model = init_model(cfg, checkpoint, device=device)
    check_same_clip(model)
    model.dataset_meta = dict(classes=tuple(names), palette=class_palette(names))
    return model


def class_palette(names: Sequence[str]) -> List[List[int]]:
    """Colours for class names: a known vocabulary's dataset palette when the names are one, else evenly
    spaced hues."""
    from mmseg.datasets import (ADE20KDataset, CityscapesDataset, PascalContextDataset59, PascalVOCDataset)
    known = {VOCABULARIES['voc20']: PascalVOCDataset.METAINFO['palette'][1:],
             VOCABULARIES['voc21']: PascalVOCDataset.METAINFO['palette'],
             VOCABULARIES['context59']: PascalContextDataset59.METAINFO['palette'],
             VOCABULARIES['ade20k']: ADE20KDataset.METAINFO['palette'],
             VOCABULARIES['cityscapes']: CityscapesDataset.METAINFO['palette']}
    if tuple(names) in known:
        return [list(c) for c in known[tuple(names)]]
    return [[int(255 * v) for v in colorsys.hsv_to_rgb(i / len(names), 0.75, 0.95)] for i in range(len(names))]


def overlay_with_legend(image_rgb: np.ndarray, pred: np.ndarray, names: Sequence[str], palette, opacity=0.5,
                        legend: bool = True) -> np.ndarray:
    """``(1 − opacity)·image + opacity·colour(pred)`` at the image's size, with a legend box (top left) of the
    classes present."""
    colours = np.asarray(palette, dtype=np.float32)[pred]
    out = np.round(image_rgb.astype(np.float32) * (1 - opacity) + colours * opacity).astype(np.uint8)
    if legend:
        present = [int(c) for c in np.unique(pred)]
        font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
        row = 18
        width = max(cv2.getTextSize(names[c], font, scale, thick)[0][0] for c in present) + 30
        height = row * len(present) + 6
        cv2.rectangle(out, (0, 0), (min(width, out.shape[1] - 1), min(height, out.shape[0] - 1)), (255, 255, 255), -1)
        for i, c in enumerate(present):
            y = 4 + i * row
            cv2.rectangle(out, (4, y), (18, y + 12), tuple(int(v) for v in palette[c]), -1)
            cv2.putText(out, names[c], (24, y + 11), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return out
