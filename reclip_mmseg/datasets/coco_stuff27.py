"""COCO-Stuff with the 27 coarse classes of the unsupervised-segmentation literature (docs/reclip_pp.md §10)."""
import numpy as np
from mmseg.datasets import BaseSegDataset, COCOStuffDataset
from mmseg.registry import DATASETS

from ..clip.vocabularies import COCO_STUFF27_CLASSES

# Supercategory (coarse class) of each COCO-Stuff fine class, by name, from the COCO / COCO-Stuff hierarchies.
# Fine names are those of MMSeg's COCOStuffDataset (171 used classes); coarse order is COCO_STUFF27_CLASSES.
COARSE_MEMBERS = {
    'electronic': ['tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone'],
    'appliance': ['microwave', 'oven', 'toaster', 'sink', 'refrigerator'],
    'food-things': ['banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut',
                    'cake'],
    'furniture-things': ['chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet'],
    'indoor': ['book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush'],
    'kitchen': ['bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl'],
    'accessory': ['backpack', 'umbrella', 'handbag', 'tie', 'suitcase'],
    'animal': ['bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe'],
    'outdoor': ['traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench'],
    'person': ['person'],
    'sports': ['frisbee', 'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove',
               'skateboard', 'surfboard', 'tennis racket'],
    'vehicle': ['bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat'],
    'ceiling': ['ceiling-other', 'ceiling-tile'],
    'floor': ['carpet', 'floor-marble', 'floor-other', 'floor-stone', 'floor-tile', 'floor-wood'],
    'food-stuff': ['food-other', 'fruit', 'salad', 'vegetable'],
    'furniture-stuff': ['cabinet', 'counter', 'cupboard', 'desk-stuff', 'door-stuff', 'furniture-other', 'light',
                        'mirror-stuff', 'shelf', 'stairs', 'table'],
    'rawmaterial': ['cardboard', 'metal', 'paper', 'plastic'],
    'textile': ['banner', 'blanket', 'cloth', 'clothes', 'curtain', 'mat', 'napkin', 'pillow', 'rug',
                'textile-other', 'towel'],
    'wall': ['wall-brick', 'wall-concrete', 'wall-other', 'wall-panel', 'wall-stone', 'wall-tile', 'wall-wood'],
    'window': ['window-blind', 'window-other'],
    'building': ['bridge', 'building-other', 'house', 'roof', 'skyscraper', 'tent'],
    'ground': ['dirt', 'gravel', 'ground-other', 'mud', 'pavement', 'platform', 'playingfield', 'railroad', 'road',
               'sand', 'snow'],
    'plant': ['branch', 'bush', 'flower', 'grass', 'leaves', 'moss', 'plant-other', 'straw', 'tree'],
    'sky': ['clouds', 'sky-other'],
    'solid': ['hill', 'mountain', 'rock', 'solid-other', 'stone', 'wood'],
    'structural': ['cage', 'fence', 'net', 'railing', 'structural-other'],
    'water': ['fog', 'river', 'sea', 'water-other', 'waterdrops'],
}


# COCO category ids that the 2017 release leaves unused; stuffthingmaps store (category id - 1) per pixel.
UNUSED_THING_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)


def stuffthingmap_lut() -> np.ndarray:
    """A 256-entry table from a stuffthingmaps pixel value (COCO category id - 1; 255 unlabeled) to the coarse
    class index 0..26, 255 where ignored. The 171 used values, in increasing order, are MMSeg's COCO-Stuff
    classes; each joins its supercategory in ``COARSE_MEMBERS``."""
    used_ids = [i for i in range(1, 91) if i not in UNUSED_THING_IDS] + list(range(92, 183))
    fine_names = COCOStuffDataset.METAINFO['classes']
    assert len(used_ids) == len(fine_names) == 171
    coarse_of = {name: COCO_STUFF27_CLASSES.index(coarse) for coarse, names in COARSE_MEMBERS.items()
                 for name in names}
    lut = np.full(256, 255, dtype=np.uint8)
    for cat_id, name in zip(used_ids, fine_names):
        lut[cat_id - 1] = coarse_of[name]
    return lut


@DATASETS.register_module()
class COCOStuff27Dataset(BaseSegDataset):
    """COCO-Stuff 164k images with 27-class label PNGs (``*_labelTrainIds27.png``, 255 = ignore) written by
    ``tools/convert_coco_stuff27.py`` into ``annotations27/{train2017,val2017}``. Full val2017 by default; a
    curated image list is an ``ann_file`` of image names."""
    METAINFO = dict(classes=COCO_STUFF27_CLASSES,
                    palette=[[(37 * i) % 256, (97 * i + 50) % 256, (151 * i + 100) % 256] for i in range(27)])

    def __init__(self, img_suffix='.jpg', seg_map_suffix='_labelTrainIds27.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
