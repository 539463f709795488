# CLIPer (ICCV'25) without FGC on context60, its authors' protocol (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_context.yaml): python tools/test.py configs/training_free/authors/cliper_vit-b16_context60.py
# Inference: whole + slide 224/112: the active line (:29).
# Row: size 336, templates cliper_car15, logit scale 100, score_threshold 0.45, bkg_thre 0.45,
# is_normalize False, attention_thr 0.2, ignore_labels [255] (docs/training_free.md §6.5).
# Labels: MMSeg's SegmentationClassContext (0 background, 1..59) are CLIPer's; ignore_labels [255] = 255 here.
# Images: MMSeg's val list (5,105); CLIPer's has 5,104 (2010_001606 left out).
_base_ = ['./_base_/cliper.py', './_base_/datasets/context60.py']
model = dict(backbone=dict(cliper=dict(logit_scale=100.0, attention_thr=0.2)),
             decode_head=dict(class_names='context60', name_file='cliper/cls_context60',
                              text_encoder=dict(templates='cliper_car15')),
             score_threshold=0.45,
             bkg_thre=0.45,
             is_normalize=False,
             background_index=0,
             test_cfg=dict(mode='whole+slide', crop_size=(224, 224), stride=(112, 112)))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='CLIPerResize', size=336),
                 dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]  # GT after the resize: scored at its size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='PresentClassIoUMetric', ignore_index=255)  # ignore_labels [255], as above
test_evaluator = val_evaluator
