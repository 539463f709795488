# MaskCLIP (value path, residual + MLP kept; ReCLIP++'s feature) on voc20, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/maskclip_vit-b16_voc20.py
_base_ = ['./_base_/voc20.py']
model = dict(backbone=dict(dense_mode='maskclip'))
