# ClearCLIP (ECCV'24) on voc20, its authors' protocol (ClearCLIP@ad68a40:configs/cfg_voc20.py:5, :14): python tools/test.py configs/training_free/authors/clearclip_vit-b16_voc20.py
_base_ = ['./_base_/clearclip.py', './_base_/datasets/voc20.py']
model = dict(decode_head=dict(class_names='voc20', name_file='clearclip/cls_voc20'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 448), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
