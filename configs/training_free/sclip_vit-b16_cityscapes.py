# SCLIP (ECCV'24) on cityscapes, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/sclip_vit-b16_cityscapes.py
_base_ = ['./_base_/cityscapes.py']
model = dict(backbone=dict(dense_mode='sclip'))
