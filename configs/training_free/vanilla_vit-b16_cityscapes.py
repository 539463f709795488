# plain CLIP last block on cityscapes, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/vanilla_vit-b16_cityscapes.py
_base_ = ['./_base_/cityscapes.py']
model = dict(backbone=dict(dense_mode='vanilla'))
