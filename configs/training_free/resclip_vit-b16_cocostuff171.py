# ResCLIP (CVPR'25; RCS + semantic feedback, NACLIP base; the ClearCLIP base: model.backbone.resclip.base=clearclip) on cocostuff171, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/resclip_vit-b16_cocostuff171.py
_base_ = ['./_base_/cocostuff171.py']
# constants: the release's cocostuff171 row (ResCLIP@0e085f7:configs/cfg_coco_stuff164k.py:5-9)
model = dict(backbone=dict(dense_mode='resclip', resclip=dict(
    base='naclip', tau_r=2.0, lambda_r=0.4, tau_s=1.8, lambda_s=0.7, temp_thd=0.11)))
