# ReCLIP++ rectification on the naclip dense feature (docs/training_free.md) instead of MaskCLIP's; hypotheses still come
# from CLIP's ordinary global embedding. Distill from its checkpoint with reclip-pp-distill_r101_80k_ade20k.py unchanged
# (model.teacher.config=configs/reclip_pp/reclip-pp-naclip_vit-b16_80k_ade20k.py).
_base_ = ['reclip-pp_vit-b16_80k_ade20k.py']
model = dict(backbone=dict(dense_mode='naclip'))
