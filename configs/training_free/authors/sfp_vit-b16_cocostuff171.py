# SFP (ICCV'25) on cocostuff171, its authors' protocol (SFP@2804f5b:configs/cfg_coco_stuff164k.py:5, :14): python tools/test.py configs/training_free/authors/sfp_vit-b16_cocostuff171.py
_base_ = ['./_base_/sfp.py', './_base_/datasets/cocostuff171.py']
model = dict(decode_head=dict(class_names='cocostuff171', name_file='sclip/cls_coco_stuff'))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 336), keep_ratio=True),
                 dict(type='LoadAnnotations'), dict(type='PackSegInputs')]  # GT after the resize: scored at full size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
