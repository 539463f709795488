"""PASCAL VOC 2012 with the 20 object classes; background is ignored (docs/reclip_pp.md §10)."""
import os.path as osp

from mmengine import fileio
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..clip.vocabularies import VOC20_CLASSES, VOC20_PALETTE


@DATASETS.register_module()
class PascalVOC20Dataset(BaseSegDataset):
    """VOC 2012 segmentation, 20 classes: label 0 (background) and 255 (boundary) become 255 (ignored).

    Layout (official VOCdevkit): ``JPEGImages/*.jpg``, ``SegmentationClass/*.png`` (palette PNGs, index =
    class), ``ImageSets/Segmentation/{train,val}.txt`` (1,464 / 1,449 names). The 10,582-image augmented set
    is the same class with ``seg_map_path='SegmentationClassAug'`` and ``ann_file='ImageSets/Segmentation/
    aug.txt'`` (see docs/dataset_prepare.md). VOC-21 with background is MMSeg's ``PascalVOCDataset``.
    """
    METAINFO = dict(classes=VOC20_CLASSES, palette=VOC20_PALETTE)

    def __init__(self, ann_file='', img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True,
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, reduce_zero_label=reduce_zero_label,
                         ann_file=ann_file, **kwargs)
        if not fileio.exists(self.data_prefix['img_path'], self.backend_args):
            raise FileNotFoundError(f"PascalVOC20Dataset: image folder {self.data_prefix['img_path']} does not "
                                    f"exist; check data_root / data_prefix (docs/dataset_prepare.md)")
        if self.ann_file and not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'PascalVOC20Dataset: split file {self.ann_file} does not exist')
