# CLIPer (ICCV'25) without FGC on voc21, its authors' protocol (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_voc21.yaml): python tools/test.py configs/training_free/authors/cliper_vit-b16_voc21.py
# Inference: whole + slide 336/112:
# the active line is `sliding_crop_size: 336` (:27); the whole-image line (:25) is commented.
# Row: size 336, templates cliper_car15, logit scale 100, score_threshold 0.7, bkg_thre 0.6,
# is_normalize True, attention_thr 0.1, ignore_labels [255] (docs/training_free.md §6.5).
# Labels: VOC-21's (0 background, 1..20, 255 boundary) are CLIPer's; ignore_labels [255] = 255 here.
# CLIPer reads VOC2012 SegmentationClassAug (its origin undocumented); this preset reads the repo's VOC layout
# (SegmentationClass); for the other:
# --cfg-options test_dataloader.dataset.data_prefix.seg_map_path=SegmentationClassAug
_base_ = ['./_base_/cliper.py', './_base_/datasets/voc21.py']
model = dict(backbone=dict(cliper=dict(logit_scale=100.0, attention_thr=0.1)),
             decode_head=dict(class_names='voc21', name_file='cliper/cls_voc21',
                              text_encoder=dict(templates='cliper_car15')),
             score_threshold=0.7,
             bkg_thre=0.6,
             is_normalize=True,
             background_index=0,
             test_cfg=dict(mode='whole+slide', crop_size=(336, 336), stride=(112, 112)))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='CLIPerResize', size=336),
                 dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]  # GT after the resize: scored at its size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='PresentClassIoUMetric', ignore_index=255)  # ignore_labels [255], as above
test_evaluator = val_evaluator
