# ClearCLIP (ECCV'24) on cocoobject, its authors' protocol (ClearCLIP@ad68a40:configs/cfg_coco_object.py:5-6, :15): python tools/test.py configs/training_free/authors/clearclip_vit-b16_cocoobject.py
_base_ = ['./_base_/clearclip.py', './_base_/datasets/cocoobject.py']
model = dict(decode_head=dict(class_names='cocoobject', name_file='clearclip/cls_coco_object'),
             prob_thd=0.4)
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 448), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
