# COCO-Object val2017: background + the 80 COCO things, built from COCO-Stuff's label maps by
# tools/convert_coco_object.py (docs/dataset_prepare.md); the training-free protocol's test data (see ./protocol.py).
_base_ = ['./protocol.py', '../../_base_/datasets/cocostuff27.py']
vocabulary = 'cocoobject'
prob_thd = 0.1  # background rule (VOC-21 / Context-60 / COCO-Object): top softmax(50 * logits) below it -> class 0
model = dict(decode_head=dict(class_names=vocabulary), prob_thd=prob_thd)  # every mode's leaf inherits both
train_dataloader = None
val_dataloader = dict(dataset=dict(type='COCOObjectDataset', pipeline={{_base_.protocol_test_pipeline}},
                                   data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017')))
test_dataloader = val_dataloader
tta_pipeline = {{_base_.protocol_tta_pipeline}}
