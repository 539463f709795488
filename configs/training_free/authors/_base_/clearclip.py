# ClearCLIP (ECCV'24): the authors' protocol (ClearCLIP@ad68a40; docs/training_free.md, "The authors' protocols"), what
# every dataset of theirs shares. The dataset rows are in each configs/training_free/authors/ file.
# ClearCLIP's own mode (dense_mode='clearclip': q-q attention, no residual, no FFN, last block). The release's
# configs/base_config.py:6-7 set model_type='vanilla' (plain CLIP), which silently is not ClearCLIP: this preset
# runs the method the paper describes. Slide 448/224 (Cityscapes 224/224); no PAMR, no area_thd; the background
# is the single word 'background'; names split at ',' (no file has one).
_base_ = ['./authors.py']
model = dict(
    backbone=dict(dense_mode='clearclip'),
    decode_head=dict(name_separator=','),
    logit_scale=50.0,
    pamr=dict(enabled=False, iterations=10, dilations=(8, 16)),
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)))
