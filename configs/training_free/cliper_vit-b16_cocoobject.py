# CLIPer (ICCV'25) without its diffusion refinement (early-layer attention fusion, last block on every layer's input) on cocoobject, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/cliper_vit-b16_cocoobject.py
_base_ = ['./_base_/cocoobject.py']
# constants: the release's cocoobject preset (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_coco5k.yaml)
model = dict(backbone=dict(dense_mode='cliper', cliper=dict(logit_scale=50.0, attention_thr=0.2)))
