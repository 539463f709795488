# SFP (ICCV'25) on cityscapes, its authors' protocol (SFP@2804f5b:configs/cfg_city_scapes.py:5, :14): python tools/test.py configs/training_free/authors/sfp_vit-b16_cityscapes.py
_base_ = ['./_base_/sfp.py', './_base_/datasets/cityscapes.py']
model = dict(decode_head=dict(class_names='cityscapes', name_file='sfp/cls_city_scapes'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 560), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
