# plain CLIP last block on cocoobject, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/vanilla_vit-b16_cocoobject.py
_base_ = ['./_base_/cocoobject.py']
model = dict(backbone=dict(dense_mode='vanilla'))
