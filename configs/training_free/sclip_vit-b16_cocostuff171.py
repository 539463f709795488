# SCLIP (ECCV'24) on cocostuff171, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/sclip_vit-b16_cocostuff171.py
_base_ = ['./_base_/cocostuff171.py']
model = dict(backbone=dict(dense_mode='sclip'))
