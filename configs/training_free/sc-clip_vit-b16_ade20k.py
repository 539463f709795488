# SC-CLIP (TIP'25; LOF outlier repair, self-adjusting, multi-level) on ade20k, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/sc-clip_vit-b16_ade20k.py
_base_ = ['./_base_/ade20k.py']
model = dict(backbone=dict(dense_mode='sc_clip'))
