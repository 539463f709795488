# ReCLIP++ rectification on the sfp dense feature (docs/training_free.md) instead of MaskCLIP's; hypotheses still come
# from CLIP's ordinary global embedding. Distill from its checkpoint with reclip-pp-distill_r101_8k_cityscapes.py unchanged
# (model.teacher.config=configs/reclip_pp/reclip-pp-sfp_vit-b16_8k_cityscapes.py).
_base_ = ['reclip-pp_vit-b16_8k_cityscapes.py']
model = dict(backbone=dict(dense_mode='sfp'))
