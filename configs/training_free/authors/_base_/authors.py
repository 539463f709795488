# The skeleton the six mmseg-based releases share (SCLIP, ClearCLIP, NACLIP, SC-CLIP, SFP, ResCLIP; docs/training_free.md,
# "The authors' protocols"), each method's base (./{method}.py) on top:
# - the CLIP mean/std and RGB order of the unified protocol, but no padding of the test image: windows and the
#   whole image see the resized image as it is (SCLIP@b56bd30:clip_segmentor.py:80-119);
# - text: every name of the name file is its own query, the 80 OpenAI ImageNet templates, the words as written;
# - AuthorsCLIPSegmentor: logits to the original size, optional PAMR there (10 iterations, dilations (8, 16)),
#   softmax(logit_scale * logits) over all names, class score = max over its names, area_thd, argmax, prob_thd -> 0;
# - the image tower as the releases feed it: the positional embedding resized by the scale factors (g + 0.1) / 14
#   (SCLIP@b56bd30:clip/model.py:263-281) and no padding to the patch size, so the patch convolution drops the last
#   H mod 16 rows and W mod 16 columns (docs/training_free.md §6);
# - metric: MMSeg's IoUMetric (mIoU), as the releases.
_base_ = ['../../../_base_/models/maskclip_vit_b16.py', '../../../_base_/default_runtime.py']
model = dict(
    type='AuthorsCLIPSegmentor',
    data_preprocessor=dict(size_divisor=None, test_cfg=None),
    # precision 'auto': OpenAI's fp16 CLIP when torch sees CUDA, fp32 otherwise, as the releases' clip.load
    backbone=dict(clip=dict(precision='auto'), pos_resize='release_offset', pad_to_patch=False),
    decode_head=dict(text_encoder=dict(clip=dict(precision='auto'), templates='imagenet80', words='raw')),
    logit_scale=40.0,
    prob_thd=0.0,
    area_thd=None,
    pamr=dict(enabled=False, iterations=10, dilations=(8, 16)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
train_cfg = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
