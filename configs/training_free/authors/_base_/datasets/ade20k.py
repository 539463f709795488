# ADE20K val (150 classes): the test data of the authors' presets (no pipeline here: each preset sets its own resize).
_base_ = ['../../../../_base_/datasets/ade20k.py']
vocabulary = 'ade20k'
train_dataloader = None
