# CLIPer (ICCV'25) without its diffusion refinement (early-layer attention fusion, last block on every layer's input) on cityscapes, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/cliper_vit-b16_cityscapes.py
_base_ = ['./_base_/cityscapes.py']
# constants: the release's cityscapes preset (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_city.yaml)
model = dict(backbone=dict(dense_mode='cliper', cliper=dict(logit_scale=100.0, attention_thr=0.35)))
