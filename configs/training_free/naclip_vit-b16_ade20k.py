# NACLIP (WACV'25; its paper adds PAMR: model.pamr.enabled=True) on ade20k, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/naclip_vit-b16_ade20k.py
_base_ = ['./_base_/ade20k.py']
model = dict(backbone=dict(dense_mode='naclip'))
