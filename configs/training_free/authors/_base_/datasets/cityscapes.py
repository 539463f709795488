# Cityscapes val (19 classes): the test data of the authors' presets (no pipeline here: each preset sets its own resize).
_base_ = ['../../../../_base_/datasets/cityscapes.py']
vocabulary = 'cityscapes'
train_dataloader = None
