# SFP (ICCV'25): the authors' protocol (SFP@2804f5b; docs/training_free.md, "The authors' protocols"), what
# every dataset of theirs shares. The dataset rows are in each configs/training_free/authors/ file.
# Same segmentor as SC-CLIP (SFP_segmentor.py:22-25); the name files of VOC20, VOC21 and Cityscapes read
# 'people' for 'person' (SFP@2804f5b:configs/cls_voc21.txt:16, cls_voc20.txt:15, cls_city_scapes.txt:12).
_base_ = ['./authors.py']
model = dict(
    backbone=dict(dense_mode='sfp'),
    decode_head=dict(name_separator=', '),
    logit_scale=40.0,
    pamr=dict(enabled=False, iterations=10, dilations=(8, 16)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
