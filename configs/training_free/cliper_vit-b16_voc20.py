# CLIPer (ICCV'25) without its diffusion refinement (early-layer attention fusion, last block on every layer's input) on voc20, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/cliper_vit-b16_voc20.py
_base_ = ['./_base_/voc20.py']
# constants: the release's voc20 preset (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_voc20.yaml)
model = dict(backbone=dict(dense_mode='cliper', cliper=dict(logit_scale=100.0, attention_thr=0.1)))
