# PASCAL VOC 2012, 20 classes (background ignored), at TagCLIP / ZegCLIP's 512 crop (docs/tagclip.md §1.2, §4.3, §5).
# Train: trainaug = train.txt (SegmentationClass) + aug.txt (SegmentationClassAug), 10,582 images; test: val.
_base_ = ['./pipelines_zs3_512.py']
dataset_type = 'PascalVOC20Dataset'
data_root = 'data/VOCdevkit/VOC2012'
vocabulary = 'voc20'
voc_train = dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 ann_file='ImageSets/Segmentation/train.txt', pipeline={{_base_.train_pipeline}})
voc_aug = dict(type=dataset_type, data_root=data_root,
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
               ann_file='ImageSets/Segmentation/aug.txt', pipeline={{_base_.train_pipeline}})
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,  # x 8 GPUs = 16, the release's batch
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', datasets=[voc_train, voc_aug]))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 ann_file='ImageSets/Segmentation/val.txt', pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
# Zero-shot split: unseen = pottedplant, sheep, sofa, train, tvmonitor (docs/tagclip.md §1.2).
unseen_idx = [15, 16, 17, 18, 19]
val_evaluator = dict(type='ZeroShotIoUMetric', unseen_idx=unseen_idx)
test_evaluator = val_evaluator
