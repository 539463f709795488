# ResCLIP (CVPR'25; RCS + semantic feedback, NACLIP base; the ClearCLIP base: model.backbone.resclip.base=clearclip) on cocostuff27, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/resclip_vit-b16_cocostuff27.py
_base_ = ['./_base_/cocostuff27.py']
# constants: no published row: COCO-Stuff-171's (the same images), see docs/training_free.md
model = dict(backbone=dict(dense_mode='resclip', resclip=dict(
    base='naclip', tau_r=2.0, lambda_r=0.4, tau_s=1.8, lambda_s=0.7, temp_thd=0.11)))
