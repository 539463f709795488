# SCLIP (ECCV'24): the authors' protocol (SCLIP@b56bd30; docs/training_free.md, "The authors' protocols"), what
# every dataset of theirs shares. The dataset rows are in each configs/training_free/authors/ file.
# Every dataset slides 224/112 (no release config overrides it); PAMR off; the background words of VOC21 and
# COCO-Object are the 26 stuff words of line 1 of the name file.
_base_ = ['./authors.py']
model = dict(
    backbone=dict(dense_mode='sclip'),
    decode_head=dict(name_separator=', '),
    logit_scale=40.0,
    pamr=dict(enabled=False, iterations=10, dilations=(8, 16)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
