# ResCLIP (CVPR'25): the authors' protocol (ResCLIP@0e085f7; docs/training_free.md, "The authors' protocols"), what
# every dataset of theirs shares. The dataset rows are in each configs/training_free/authors/ file.
# Final PAMR off (pamr_steps=0); the semantic feedback's own PAMR (10 iterations, dilations (8, 16)) runs inside
# the tower. Its first pass labels the patches over every name query (synonyms and background words separate).
# VOC20 / VOC21: whole image; elsewhere slide 224/112. Per-dataset constants: configs/training_free/resclip_*.
_base_ = ['./authors.py']
model = dict(
    backbone=dict(dense_mode='resclip'),
    decode_head=dict(name_separator=', '),
    logit_scale=40.0,
    pamr=dict(enabled=False, iterations=10, dilations=(8, 16)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
