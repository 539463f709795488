# Training-free MaskCLIP baseline on cocostuff27: python tools/test.py configs/reclip_pp/maskclip-baseline_vit-b16_cocostuff27.py
_base_ = ['../_base_/models/maskclip_vit_b16.py', '../_base_/datasets/cocostuff27.py', '../_base_/default_runtime.py']
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=0.95))
train_dataloader = None
train_cfg = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
