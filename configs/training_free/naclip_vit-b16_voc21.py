# NACLIP (WACV'25; its paper adds PAMR: model.pamr.enabled=True) on voc21, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/naclip_vit-b16_voc21.py
_base_ = ['./_base_/voc21.py']
model = dict(backbone=dict(dense_mode='naclip'))
