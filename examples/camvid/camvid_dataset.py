"""A dataset of your own, the CamVid example (README "Your own dataset"): 11 classes of SegNet's CamVid release,
label 11 ('void') ignored through MMSeg's own label_map (a class list that leaves a class out maps it to 255)."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

CLASSES = ('sky', 'building', 'pole', 'road', 'sidewalk', 'tree', 'sign symbol', 'fence', 'car', 'pedestrian',
           'bicyclist')


@DATASETS.register_module()
class CamVid11Dataset(BaseSegDataset):
    """CamVid (SegNet layout): ``{train,val,test}/*.png`` images, ``{train,val,test}annot/*.png`` label maps with
    values 0..10 and 11 = void."""
    METAINFO = dict(classes=CLASSES + ('void',), palette=[[i * 20, 255 - i * 20, (i * 70) % 256] for i in range(12)])

    def __init__(self, **kwargs):
        kwargs.setdefault('metainfo', dict(classes=CLASSES))  # leaves 'void' out: MMSeg maps it to 255
        super().__init__(img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False, **kwargs)
