"""COCO-Object: the 80 COCO thing classes plus background, as the training-free literature builds it
(docs/dataset_prepare.md, "COCO-Object"): from COCO-Stuff-164k's label maps, not from the instance annotations. Every thing
becomes its class 1..80 (COCO order), every stuff class and the unlabeled value 255 become 0 = background, so the maps
have no ignored pixel."""
import numpy as np
from mmseg.datasets import BaseSegDataset, COCOStuffDataset
from mmseg.registry import DATASETS

from ..clip.vocabularies import COCO_OBJECT_CLASSES
from .coco_stuff27 import UNUSED_THING_IDS


def coco_object_lut() -> np.ndarray:
    """A 256-entry table from a COCO-Stuff raw label value (COCO category id - 1: things 0..89, stuff 91..181; 255
    unlabeled) to the COCO-Object index: the 80 used thing values, in increasing order, to 1..80; everything else
    (stuff, unlabeled, values no category uses) to 0."""
    thing_values = [i - 1 for i in range(1, 91) if i not in UNUSED_THING_IDS]
    assert len(thing_values) == 80
    lut = np.zeros(256, dtype=np.uint8)
    lut[thing_values] = np.arange(1, 81, dtype=np.uint8)
    return lut


@DATASETS.register_module()
class COCOObjectDataset(BaseSegDataset):
    """COCO val2017 images with COCO-Object label PNGs (``*_instanceTrainIds.png``, written by
    ``tools/convert_coco_object.py`` next to the COCO-Stuff annotations): 81 classes, 0 = background is a scored
    class (``reduce_zero_label=False``), as MMSeg's PascalVOCDataset treats VOC's background."""
    METAINFO = dict(classes=COCO_OBJECT_CLASSES,
                    palette=[[0, 0, 0]] + [list(p) for p in COCOStuffDataset.METAINFO['palette'][:80]])

    def __init__(self, img_suffix='.jpg', seg_map_suffix='_instanceTrainIds.png', reduce_zero_label=False,
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label,
                         **kwargs)
