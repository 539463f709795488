# SFP (ICCV'25; attention-based outlier repair, self-adjusting, multi-level) on ade20k, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/sfp_vit-b16_ade20k.py
_base_ = ['./_base_/ade20k.py']
model = dict(backbone=dict(dense_mode='sfp'))
