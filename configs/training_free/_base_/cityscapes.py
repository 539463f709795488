# Cityscapes val, 19 classes, short side 560: the training-free protocol's test data (see ./protocol.py).
_base_ = ['./protocol.py', '../../_base_/datasets/cityscapes.py']
vocabulary = 'cityscapes'
prob_thd = 0.0  # background rule (VOC-21 / Context-60 only): top softmax(50 * logits) below it -> class 0
train_dataloader = None
protocol_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 560), keep_ratio=True),  # Cityscapes: short side 560
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=protocol_test_pipeline))
test_dataloader = val_dataloader
