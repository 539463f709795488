# ClearCLIP (ECCV'24) on cocostuff27, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/clearclip_vit-b16_cocostuff27.py
_base_ = ['./_base_/cocostuff27.py']
model = dict(backbone=dict(dense_mode='clearclip'))
