# ReCLIP++ rectification on the sfp dense feature (TRAINING_FREE.md) instead of MaskCLIP's; hypotheses still come
# from CLIP's ordinary global embedding. Distill from its checkpoint with context_distill.py unchanged
# (model.teacher.config=configs/reclip_pp/context_rectify_sfp.py).
_base_ = ['./context_rectify.py']
model = dict(backbone=dict(dense_mode='sfp'))
