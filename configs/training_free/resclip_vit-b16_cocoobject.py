# ResCLIP (CVPR'25; RCS + semantic feedback, NACLIP base; the ClearCLIP base: model.backbone.resclip.base=clearclip) on cocoobject, training-free protocol (./_base_/protocol.py): python tools/test.py configs/training_free/resclip_vit-b16_cocoobject.py
_base_ = ['./_base_/cocoobject.py']
# constants: the release's cocoobject row (ResCLIP@0e085f7:configs/cfg_coco_object.py:5-10)
model = dict(backbone=dict(dense_mode='resclip', resclip=dict(
    base='naclip', tau_r=2.0, lambda_r=0.4, tau_s=1.8, lambda_s=0.7, temp_thd=0.11)))
