# ResCLIP (CVPR'25; RCS + semantic feedback, NACLIP base; the ClearCLIP base: model.backbone.resclip.base=clearclip) on context60, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/resclip_vit-b16_context60.py
_base_ = ['./_base_/context60.py']
# constants: the release's context60 row (ResCLIP@0e085f7:configs/cfg_context60.py:5-10)
model = dict(backbone=dict(dense_mode='resclip', resclip=dict(
    base='naclip', tau_r=2.0, lambda_r=0.3, tau_s=1.8, lambda_s=0.7, temp_thd=0.3)))
