# SCLIP (ECCV'24) on context60, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/sclip_vit-b16_context60.py
_base_ = ['./_base_/context60.py']
model = dict(backbone=dict(dense_mode='sclip'))
