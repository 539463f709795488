# NACLIP (WACV'25) on cityscapes, its authors' protocol (NACLIP@0cac3a6:configs/cfg_city_scapes.py:5, :14): python tools/test.py configs/training_free/authors/naclip_vit-b16_cityscapes.py
_base_ = ['./_base_/naclip.py', './_base_/datasets/cityscapes.py']
model = dict(decode_head=dict(class_names='cityscapes', name_file='sclip/cls_city_scapes'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 560), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
