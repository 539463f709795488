# CLIPer (ICCV'25) without its diffusion refinement (early-layer attention fusion, last block on every layer's input) on cocostuff171, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/cliper_vit-b16_cocostuff171.py
_base_ = ['./_base_/cocostuff171.py']
# constants: the release's cocostuff171 preset (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_stuff164.yaml)
model = dict(backbone=dict(dense_mode='cliper', cliper=dict(logit_scale=50.0, attention_thr=0.2)))
