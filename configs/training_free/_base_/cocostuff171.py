# COCO-Stuff val2017, 171 classes (MMSeg's labelTrainIds): the training-free protocol's test data (see ./protocol.py).
_base_ = ['./protocol.py', '../../_base_/datasets/cocostuff27.py']
vocabulary = 'cocostuff171'
prob_thd = 0.0  # background rule (VOC-21 / Context-60 / COCO-Object only): top softmax(50 * logits) below it -> class 0
model = dict(decode_head=dict(class_names=vocabulary), prob_thd=prob_thd)  # every mode's leaf inherits both
train_dataloader = None
val_dataloader = dict(dataset=dict(type='COCOStuffDataset', data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'), pipeline={{_base_.protocol_test_pipeline}}))
test_dataloader = val_dataloader
tta_pipeline = {{_base_.protocol_tta_pipeline}}
