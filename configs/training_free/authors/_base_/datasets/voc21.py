# PASCAL VOC 2012 val with background (21 classes): the test data of the authors' presets (no pipeline here: each preset sets its own resize).
_base_ = ['../../../../_base_/datasets/voc20.py']
vocabulary = 'voc21'
train_dataloader = None
val_dataloader = dict(dataset=dict(type='PascalVOCDataset'))
test_dataloader = val_dataloader
