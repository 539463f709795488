# NACLIP (WACV'25; its paper adds PAMR: model.pamr.enabled=True) on cocostuff171, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/naclip_vit-b16_cocostuff171.py
_base_ = ['./_base_/cocostuff171.py']
model = dict(backbone=dict(dense_mode='naclip'))
