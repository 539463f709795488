# ResCLIP (CVPR'25; RCS + semantic feedback, NACLIP base; the ClearCLIP base: model.backbone.resclip.base=clearclip) on cityscapes, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/resclip_vit-b16_cityscapes.py
_base_ = ['./_base_/cityscapes.py']
# constants: the release's cityscapes row (ResCLIP@0e085f7:configs/cfg_city_scapes.py:5-9)
model = dict(backbone=dict(dense_mode='resclip', resclip=dict(
    base='naclip', tau_r=2.0, lambda_r=0.2, tau_s=2.1, lambda_s=0.6, temp_thd=0.1)))
