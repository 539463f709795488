# SC-CLIP (TIP'25; LOF outlier repair, self-adjusting, multi-level) on cocostuff171, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/sc-clip_vit-b16_cocostuff171.py
_base_ = ['./_base_/cocostuff171.py']
model = dict(backbone=dict(dense_mode='sc_clip'))
