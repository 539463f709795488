# COCO-Stuff 164K, 171 classes (MMSeg's COCOStuffDataset, the same order as ZegCLIP), 512 crop (docs/tagclip.md §1.2).
# Layout: MMSeg's (images/{train,val}2017, annotations/{train,val}2017/*_labelTrainIds.png, made by MMSeg's
# tools/dataset_converters/coco_stuff164k.py).
_base_ = ['./pipelines_zs3_512.py']
dataset_type = 'COCOStuffDataset'
data_root = 'data/coco_stuff164k'
vocabulary = 'cocostuff171'
train_dataloader = dict(
    batch_size=2, num_workers=4, persistent_workers=True,  # x 8 GPUs = 16, the release's batch
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
                 pipeline={{_base_.train_pipeline}}))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
                 pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
# Zero-shot split, 15 unseen: cow, giraffe, suitcase, frisbee, skateboard, carrot, scissors, cardboard, clouds,
# grass, playingfield, river, road, tree, wall-concrete (docs/tagclip.md §1.2).
unseen_idx = [19, 23, 28, 29, 36, 51, 76, 88, 94, 112, 133, 136, 137, 157, 160]
val_evaluator = dict(type='ZeroShotIoUMetric', unseen_idx=unseen_idx)
test_evaluator = val_evaluator
