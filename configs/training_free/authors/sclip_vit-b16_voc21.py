# SCLIP (ECCV'24) on voc21, its authors' protocol (SCLIP@b56bd30:configs/cfg_voc21.py:5-8, :17): python tools/test.py configs/training_free/authors/sclip_vit-b16_voc21.py
_base_ = ['./_base_/sclip.py', './_base_/datasets/voc21.py']
model = dict(decode_head=dict(class_names='voc21', name_file='sclip/cls_voc21'),
             logit_scale=65.0,
             prob_thd=0.1,
             area_thd=0.1)
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
