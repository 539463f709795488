# ReCLIP++ rectification on the sfp dense feature (TRAINING_FREE.md) instead of MaskCLIP's; hypotheses still come
# from CLIP's ordinary global embedding. Distill from its checkpoint with cityscapes_distill.py unchanged
# (model.teacher.config=configs/reclip_pp/cityscapes_rectify_sfp.py).
_base_ = ['./cityscapes_rectify.py']
model = dict(backbone=dict(dense_mode='sfp'))
