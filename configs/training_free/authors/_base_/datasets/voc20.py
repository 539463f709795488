# PASCAL VOC 2012 val without background (20 classes): the test data of the authors' presets (no pipeline here: each preset sets its own resize).
_base_ = ['../../../../_base_/datasets/voc20.py']
vocabulary = 'voc20'
train_dataloader = None
