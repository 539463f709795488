# PASCAL Context val with background (60 classes): the test data of the authors' presets (no pipeline here: each preset sets its own resize).
_base_ = ['../../../../_base_/datasets/context59.py']
vocabulary = 'context60'
train_dataloader = None
val_dataloader = dict(dataset=dict(type='PascalContextDataset'))
test_dataloader = val_dataloader
