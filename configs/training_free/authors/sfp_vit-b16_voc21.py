# SFP (ICCV'25) on voc21, its authors' protocol (SFP@2804f5b:configs/cfg_voc21.py:5-8, :19): python tools/test.py configs/training_free/authors/sfp_vit-b16_voc21.py
_base_ = ['./_base_/sfp.py', './_base_/datasets/voc21.py']
model = dict(decode_head=dict(class_names='voc21', name_file='sfp/cls_voc21'),
             logit_scale=50.0,
             prob_thd=0.15,
             area_thd=0.1)
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
