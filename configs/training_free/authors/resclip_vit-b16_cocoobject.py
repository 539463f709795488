# ResCLIP (CVPR'25) on cocoobject, its authors' protocol (ResCLIP@0e085f7:configs/cfg_coco_object.py:5-10, :19): python tools/test.py configs/training_free/authors/resclip_vit-b16_cocoobject.py
_base_ = ['./_base_/resclip.py', './_base_/datasets/cocoobject.py']
model = dict(decode_head=dict(class_names='cocoobject', name_file='sclip/cls_coco_object'),
             prob_thd=0.1,
             backbone=dict(resclip=dict(base='naclip', tau_r=2.0, lambda_r=0.4, tau_s=1.8, lambda_s=0.7, temp_thd=0.11)))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
