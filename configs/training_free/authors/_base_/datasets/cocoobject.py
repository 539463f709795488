# COCO-Object val2017 (background + 80 things, tools/convert_coco_object.py): the test data of the authors' presets (no pipeline here: each preset sets its own resize).
_base_ = ['../../../../_base_/datasets/cocostuff27.py']
vocabulary = 'cocoobject'
train_dataloader = None
val_dataloader = dict(dataset=dict(type='COCOObjectDataset', data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017')))
test_dataloader = val_dataloader
