# ReCLIP++ rectification on the sfp dense feature (TRAINING_FREE.md) instead of MaskCLIP's; hypotheses still come
# from CLIP's ordinary global embedding. Distill from its checkpoint with voc_distill.py unchanged
# (model.teacher.config=configs/reclip_pp/voc_rectify_sfp.py).
_base_ = ['./voc_rectify.py']
model = dict(backbone=dict(dense_mode='sfp'))
