# COCO-Stuff-164k val2017 (171 classes): the test data of the authors' presets (no pipeline here: each preset sets its own resize).
_base_ = ['../../../../_base_/datasets/cocostuff27.py']
vocabulary = 'cocostuff171'
train_dataloader = None
val_dataloader = dict(dataset=dict(type='COCOStuffDataset', data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017')))
test_dataloader = val_dataloader
