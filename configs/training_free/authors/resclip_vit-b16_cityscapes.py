# ResCLIP (CVPR'25) on cityscapes, its authors' protocol (ResCLIP@0e085f7:configs/cfg_city_scapes.py:5-9, :18): python tools/test.py configs/training_free/authors/resclip_vit-b16_cityscapes.py
_base_ = ['./_base_/resclip.py', './_base_/datasets/cityscapes.py']
model = dict(decode_head=dict(class_names='cityscapes', name_file='sclip/cls_city_scapes'),
             backbone=dict(resclip=dict(base='naclip', tau_r=2.0, lambda_r=0.2, tau_s=2.1, lambda_s=0.6, temp_thd=0.1)))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 560), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
