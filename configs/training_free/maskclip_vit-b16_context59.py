# MaskCLIP (value path, residual + MLP kept; ReCLIP++'s feature) on context59, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/maskclip_vit-b16_context59.py
_base_ = ['./_base_/context59.py']
model = dict(backbone=dict(dense_mode='maskclip'))
