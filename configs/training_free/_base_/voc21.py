# PASCAL VOC 2012 val, 21 classes with background (prob_thd): the training-free protocol's test data (see ./protocol.py).
_base_ = ['./protocol.py', '../../_base_/datasets/voc20.py']
vocabulary = 'voc21'
prob_thd = 0.1  # background rule (VOC-21 / Context-60 / COCO-Object only): top softmax(50 * logits) below it -> class 0
model = dict(decode_head=dict(class_names=vocabulary), prob_thd=prob_thd)  # every mode's leaf inherits both
train_dataloader = None
val_dataloader = dict(dataset=dict(type='PascalVOCDataset', pipeline={{_base_.protocol_test_pipeline}}))
test_dataloader = val_dataloader
tta_pipeline = {{_base_.protocol_tta_pipeline}}
