# SC-CLIP (TIP'25): the authors' protocol (SC-CLIP@0417ba9; docs/training_free.md, "The authors' protocols"), what
# every dataset of theirs shares. The dataset rows are in each configs/training_free/authors/ file.
# Slide 224/112 everywhere; PAMR off (pamr_steps=0); method constants as the dense mode (configs/base_config.py:1-9).
_base_ = ['./authors.py']
model = dict(
    backbone=dict(dense_mode='sc_clip'),
    decode_head=dict(name_separator=', '),
    logit_scale=40.0,
    pamr=dict(enabled=False, iterations=10, dilations=(8, 16)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
