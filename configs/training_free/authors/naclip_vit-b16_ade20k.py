# NACLIP (WACV'25) on ade20k, its authors' protocol (NACLIP@0cac3a6:configs/cfg_ade20k.py:5, :14): python tools/test.py configs/training_free/authors/naclip_vit-b16_ade20k.py
_base_ = ['./_base_/naclip.py', './_base_/datasets/ade20k.py']
model = dict(decode_head=dict(class_names='ade20k', name_file='sclip/cls_ade20k'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
