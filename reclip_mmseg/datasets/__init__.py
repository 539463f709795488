from .hypotheses import WindowClassifier, read_hypothesis_file, votes_to_labels, window_boxes
from .hypothesis_run import generate_hypotheses
from .transforms import LoadImageLevelLabels
from .coco_object import COCOObjectDataset, coco_object_lut
from .coco_stuff27 import COARSE_MEMBERS, COCOStuff27Dataset, stuffthingmap_lut
from .voc20 import PascalVOC20Dataset
from .cliper import CLIPerCityscapesDataset, CLIPerCityscapesHalf, CLIPerResize

__all__ = ['PascalVOC20Dataset', 'COCOStuff27Dataset', 'COCOObjectDataset', 'coco_object_lut', 'COARSE_MEMBERS', 'stuffthingmap_lut', 'LoadImageLevelLabels', 'WindowClassifier', 'generate_hypotheses',
           'read_hypothesis_file', 'votes_to_labels', 'window_boxes',
           'CLIPerResize', 'CLIPerCityscapesHalf', 'CLIPerCityscapesDataset']
