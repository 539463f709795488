# ResCLIP (CVPR'25; RCS + semantic feedback, NACLIP base; the ClearCLIP base: model.backbone.resclip.base=clearclip) on context59, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/resclip_vit-b16_context59.py
_base_ = ['./_base_/context59.py']
# constants: the release's context59 row (ResCLIP@0e085f7:configs/cfg_context59.py:5-9)
model = dict(backbone=dict(dense_mode='resclip', resclip=dict(
    base='naclip', tau_r=2.0, lambda_r=0.4, tau_s=1.8, lambda_s=0.7, temp_thd=0.25)))
