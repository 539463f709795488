# ReCLIP++ rectification on the clearclip dense feature (docs/training_free.md) instead of MaskCLIP's; hypotheses still come
# from CLIP's ordinary global embedding. Distill from its checkpoint with reclip-pp-distill_r101_80k_cocostuff27.py unchanged
# (model.teacher.config=configs/reclip_pp/reclip-pp-clearclip_vit-b16_80k_cocostuff27.py).
_base_ = ['reclip-pp_vit-b16_80k_cocostuff27.py']
model = dict(backbone=dict(dense_mode='clearclip'))
