# SFP (ICCV'25; attention-based outlier repair, self-adjusting, multi-level) on cityscapes, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/sfp_vit-b16_cityscapes.py
_base_ = ['./_base_/cityscapes.py']
model = dict(backbone=dict(dense_mode='sfp'))
