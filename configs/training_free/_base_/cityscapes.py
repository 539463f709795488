# Cityscapes val, 19 classes, short side 560: the training-free protocol's test data (see ./protocol.py).
_base_ = ['./protocol.py', '../../_base_/datasets/cityscapes.py']
vocabulary = 'cityscapes'
prob_thd = 0.0  # background rule (VOC-21 / Context-60 / COCO-Object only): top softmax(50 * logits) below it -> class 0
model = dict(decode_head=dict(class_names=vocabulary), prob_thd=prob_thd)  # every mode's leaf inherits both
train_dataloader = None
protocol_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 560), keep_ratio=True),  # Cityscapes: short side 560
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(int(2048 * r), int(560 * r)), keep_ratio=True)
         for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)],
        [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
         dict(type='RandomFlip', prob=1.0, direction='horizontal')],
        [dict(type='LoadAnnotations')],
        [dict(type='PackSegInputs')]])
]
val_dataloader = dict(dataset=dict(pipeline=protocol_test_pipeline))
test_dataloader = val_dataloader
