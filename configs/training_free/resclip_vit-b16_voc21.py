# ResCLIP (CVPR'25; RCS + semantic feedback, NACLIP base; the ClearCLIP base: model.backbone.resclip.base=clearclip) on voc21, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/resclip_vit-b16_voc21.py
_base_ = ['./_base_/voc21.py']
# constants: the release's voc21 row (ResCLIP@0e085f7:configs/cfg_voc21.py:5-11)
model = dict(backbone=dict(dense_mode='resclip', resclip=dict(
    base='naclip', tau_r=2.0, lambda_r=0.3, tau_s=2.2, lambda_s=0.7, temp_thd=0.5)))
