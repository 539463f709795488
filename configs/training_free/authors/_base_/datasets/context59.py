# PASCAL Context val without background (59 classes): the test data of the authors' presets (no pipeline here: each preset sets its own resize).
_base_ = ['../../../../_base_/datasets/context59.py']
vocabulary = 'context59'
train_dataloader = None
