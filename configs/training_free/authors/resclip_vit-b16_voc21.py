# ResCLIP (CVPR'25) on voc21, its authors' protocol (ResCLIP@0e085f7:configs/cfg_voc21.py:5-11, :20): python tools/test.py configs/training_free/authors/resclip_vit-b16_voc21.py
_base_ = ['./_base_/resclip.py', './_base_/datasets/voc21.py']
model = dict(decode_head=dict(class_names='voc21', name_file='sclip/cls_voc21'),
             prob_thd=0.1,
             test_cfg=dict(_delete_=True, mode='whole'),
             backbone=dict(resclip=dict(base='naclip', tau_r=2.0, lambda_r=0.3, tau_s=2.2, lambda_s=0.7, temp_thd=0.5)))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
