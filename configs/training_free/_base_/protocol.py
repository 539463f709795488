# One protocol for every training-free dense mode (docs/training_free.md, "Post-processing and protocol"), written
# once here and used by every configs/training_free/{mode}_{dataset}.py:
# - frozen CLIP ViT-B/16 (OpenAI), 85-template Query embeddings (ReCLIP++'s ensemble), plain cosine logits;
# - test scale: short side 336 (Cityscapes 560), set per dataset in ./{dataset}.py;
# - sliding window 224 x 224, stride 112, logits averaged over windows, on every dataset (VOC included);
# - no prompt denoising, no PAMR (switch: --cfg-options model.pamr.enabled=True; 10 iterations, dilations
#   1, 2, 4, 8, 12, 24);
# - background (VOC-21, Context-60 only): softmax(50 * logits), top probability below prob_thd -> class 0.
_base_ = ['../../_base_/models/maskclip_vit_b16.py', '../../_base_/default_runtime.py']
model = dict(
    type='CLIPSegmentor',
    backbone=dict(dense_mode='maskclip'),
    pamr=dict(enabled=False, iterations=10, dilations=(1, 2, 4, 8, 12, 24)),
    logit_scale=50.0,
    prob_thd=0.0,
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
# Test data: short side 336, keep ratio (Cityscapes overrides it with 560 in ./cityscapes.py); the dataset
# class decides reduce_zero_label.
protocol_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# `tools/test.py --tta`: multi-scale (short side 336 x 0.5 .. 1.75) + flip, MMSeg's idiom.
protocol_tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(int(2048 * r), int(336 * r)), keep_ratio=True)
         for r in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)],
        [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
         dict(type='RandomFlip', prob=1.0, direction='horizontal')],
        [dict(type='LoadAnnotations')],
        [dict(type='PackSegInputs')]])
]
train_cfg = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
