# COCO-Stuff val2017, 27 coarse classes (ReCLIP protocol): the training-free protocol's test data (see ./protocol.py).
_base_ = ['../../_base_/datasets/coco_stuff27.py']
vocabulary = 'coco_stuff27'
prob_thd = 0.0  # background rule (VOC-21 / Context-60 only): top softmax(50 * logits) below it -> class 0
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = None
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
