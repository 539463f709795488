# CLIPer (ICCV'25) without its diffusion refinement (early-layer attention fusion, last block on every layer's input) on cocostuff27, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/cliper_vit-b16_cocostuff27.py
_base_ = ['./_base_/cocostuff27.py']
# constants: no published preset: COCO-Stuff-171's (the same images), see docs/training_free.md
model = dict(backbone=dict(dense_mode='cliper', cliper=dict(logit_scale=50.0, attention_thr=0.2)))
