# Cross-dataset, test only: the COCO-Stuff inductive checkpoint on PASCAL Context val, 60 classes with background
# (MMSeg's PascalContextDataset), 15-template text (context_multi.npy is not shipped by the release; regenerated
# with the same recipe), all classes "seen", no calibration, no trusty token.
#   python tools/test.py configs/tagclip/tagclip_vpt-vit-b16_coco2context60.py \
#       work_dirs/tagclip-inductive_vpt-vit-b16_80k_cocostuff171/iter_80000.pth
_base_ = ['../_base_/models/tagclip_vpt_vit_b16.py', '../_base_/datasets/pipelines_zs3_512.py',
          '../_base_/default_runtime.py']
model = dict(backbone=dict(num_tokens=100),
             decode_head=dict(class_names='context60', unseen_idx=[], use_trusty=False, trusty_eval='none',
                              seen_bias=0.0, text_encoder=dict(templates='zegclip15')))
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='PascalContextDataset', data_root='data/VOCdevkit/VOC2010',
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassContext'),
                 ann_file='ImageSets/SegmentationContext/val.txt',
                 pipeline={{_base_.test_pipeline}}))
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_cfg = dict(type='TestLoop')
