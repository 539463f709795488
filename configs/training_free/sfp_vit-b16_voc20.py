# SFP (ICCV'25; attention-based outlier repair, self-adjusting, multi-level) on voc20, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/sfp_vit-b16_voc20.py
_base_ = ['./_base_/voc20.py']
model = dict(backbone=dict(dense_mode='sfp'))
