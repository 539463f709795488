# NACLIP (WACV'25; its paper adds PAMR: model.pamr.enabled=True) on context59, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/naclip_vit-b16_context59.py
_base_ = ['./_base_/context59.py']
model = dict(backbone=dict(dense_mode='naclip'))
