# ClearCLIP (ECCV'24) on context59, its authors' protocol (ClearCLIP@ad68a40:configs/cfg_context59.py:5, :14): python tools/test.py configs/training_free/authors/clearclip_vit-b16_context59.py
_base_ = ['./_base_/clearclip.py', './_base_/datasets/context59.py']
model = dict(decode_head=dict(class_names='context59', name_file='sclip/cls_context59'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 448), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
