# PASCAL VOC 2012 val, 21 classes with background (prob_thd): the training-free protocol's test data (see ./protocol.py).
_base_ = ['../../_base_/datasets/voc20.py']
vocabulary = 'voc21'
prob_thd = 0.1  # background rule (VOC-21 / Context-60 only): top softmax(50 * logits) below it -> class 0
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = None
val_dataloader = dict(dataset=dict(type='PascalVOCDataset', pipeline=test_pipeline))
test_dataloader = val_dataloader
