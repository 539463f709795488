# ResCLIP (CVPR'25) on cocostuff171, its authors' protocol (ResCLIP@0e085f7:configs/cfg_coco_stuff164k.py:5-9, :18): python tools/test.py configs/training_free/authors/resclip_vit-b16_cocostuff171.py
_base_ = ['./_base_/resclip.py', './_base_/datasets/cocostuff171.py']
model = dict(decode_head=dict(class_names='cocostuff171', name_file='sclip/cls_coco_stuff'),
             backbone=dict(resclip=dict(base='naclip', tau_r=2.0, lambda_r=0.4, tau_s=1.8, lambda_s=0.7, temp_thd=0.11)))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
