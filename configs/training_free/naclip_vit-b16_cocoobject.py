# NACLIP (WACV'25; its paper adds PAMR: model.pamr.enabled=True) on cocoobject, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/naclip_vit-b16_cocoobject.py
_base_ = ['./_base_/cocoobject.py']
model = dict(backbone=dict(dense_mode='naclip'))
