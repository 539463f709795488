# NACLIP (WACV'25) on voc20, its authors' protocol (NACLIP@0cac3a6:configs/cfg_voc20.py:5-6, :15): python tools/test.py configs/training_free/authors/naclip_vit-b16_voc20.py
_base_ = ['./_base_/naclip.py', './_base_/datasets/voc20.py']
model = dict(decode_head=dict(class_names='voc20', name_file='sclip/cls_voc20'),
             test_cfg=dict(_delete_=True, mode='whole'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
