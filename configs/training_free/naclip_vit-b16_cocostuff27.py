# NACLIP (WACV'25; its paper adds PAMR: model.pamr.enabled=True) on cocostuff27, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/naclip_vit-b16_cocostuff27.py
_base_ = ['./_base_/cocostuff27.py']
model = dict(backbone=dict(dense_mode='naclip'))
