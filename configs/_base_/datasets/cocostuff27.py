# COCO-Stuff-27: the 27 coarse classes; labels made by tools/convert_coco_stuff27.py. Layout: docs/dataset_prepare.md.
dataset_type = 'COCOStuff27Dataset'
data_root = 'data/coco_stuff164k'
vocabulary = 'cocostuff27'
crop_size = (512, 512)  # release crop
scale = (2048, 512)  # short side 512, keep ratio: the test scale (docs/reclip_pp.md §7) and the train resize centre
# Image-level hypotheses (docs/reclip_pp.md §5), made by `python tools/gen_hypotheses.py CONFIG`: windows of
# crop/6 = 85 px, stride half the side, every class with at least one vote.
hypotheses = dict(window_size=85, window_stride=42)  # the release's other settings: HYPOTHESIS_DEFAULTS
hypothesis_file = 'hypotheses/reclip_pp/cocostuff27_train.json'  # relative: resolved against the train dataset's data_root
meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'reduce_zero_label', 'image_level_labels')
train_pipeline = [  # unsupervised: no mask is loaded for training
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels', hypothesis_file=hypothesis_file, class_names=vocabulary),
    dict(type='RandomResize', scale=scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
# Distillation (docs/reclip_pp.md §8): the label map comes along only to mark the pixels that get no pseudo label (255:
# ignored / background, and the padding); its classes are never read. Used by the distillation configs (reclip-pp-distill_*, reclip-distill_*).
distill_train_pipeline = train_pipeline[:2] + [dict(type='LoadAnnotations')] + train_pipeline[2:]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# `tools/test.py --tta`: MMSeg's multi-scale + flip idiom around the test scale (short side x 0.5 .. 1.75).
tta_ratios = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(int(2048 * r), int(512 * r)), keep_ratio=True) for r in tta_ratios],
        [dict(type='RandomFlip', prob=0.0, direction='horizontal'),
         dict(type='RandomFlip', prob=1.0, direction='horizontal')],
        [dict(type='LoadAnnotations')],
        [dict(type='PackSegInputs')]])
]
train_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/train2017', seg_map_path='annotations27/train2017'),
                 ann_file='', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/val2017', seg_map_path='annotations27/val2017'),
                 ann_file='', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
