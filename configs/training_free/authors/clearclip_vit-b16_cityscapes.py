# ClearCLIP (ECCV'24) on cityscapes, its authors' protocol (ClearCLIP@ad68a40:configs/cfg_city_scapes.py:5-6, :15): python tools/test.py configs/training_free/authors/clearclip_vit-b16_cityscapes.py
_base_ = ['./_base_/clearclip.py', './_base_/datasets/cityscapes.py']
model = dict(decode_head=dict(class_names='cityscapes', name_file='sclip/cls_city_scapes'),
             test_cfg=dict(crop_size=(224, 224), stride=(224, 224)))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 448), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
