# ResCLIP (CVPR'25; RCS + semantic feedback, NACLIP base; the ClearCLIP base: model.backbone.resclip.base=clearclip) on ade20k, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/resclip_vit-b16_ade20k.py
_base_ = ['./_base_/ade20k.py']
# constants: the release's ade20k row (ResCLIP@0e085f7:configs/cfg_ade20k.py:5-9)
model = dict(backbone=dict(dense_mode='resclip', resclip=dict(
    base='naclip', tau_r=2.0, lambda_r=0.3, tau_s=2.1, lambda_s=0.7, temp_thd=0.25)))
