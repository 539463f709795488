# NACLIP (WACV'25): the authors' protocol (NACLIP@0cac3a6; docs/training_free.md, "The authors' protocols"), what
# every dataset of theirs shares. The dataset rows are in each configs/training_free/authors/ file.
# PAMR on: the README's headline numbers come from `test_all.sh reduced naclip 5 on` (NACLIP@0cac3a6:README.md:54,
# :78; eval.py:54-57). For its no-post-processing numbers: --cfg-options model.pamr.enabled=False.
# VOC20 / VOC21: whole image; elsewhere slide 224/112.
_base_ = ['./authors.py']
model = dict(
    backbone=dict(dense_mode='naclip'),
    decode_head=dict(name_separator=', '),
    logit_scale=40.0,
    pamr=dict(enabled=True, iterations=10, dilations=(8, 16)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
