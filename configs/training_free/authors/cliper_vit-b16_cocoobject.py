# CLIPer (ICCV'25) without FGC on cocoobject, its authors' protocol (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_coco5k.yaml): python tools/test.py configs/training_free/authors/cliper_vit-b16_cocoobject.py
# Inference: whole + slide 224/112: the active line (:28).
# Row: size 336, templates imagenet80, logit scale 50, score_threshold 0.3, bkg_thre 0.3,
# is_normalize False, attention_thr 0.2, ignore_labels [255] (docs/training_free.md §6.5).
# Labels: 0 background, 1..80 the things in COCO order, as CLIPer's name file; ignore_labels [255] = 255 here.
# Data: CLIPer scores 5,000 COCO-2014 val images (data/coco14/val_5k.txt) with label maps whose making it does
# not document (coco_seg_anno); this preset scores the repo's COCO-Object val2017 (tools/convert_coco_object.py),
# the SCLIP lineage's (docs/training_free.md §6.5).
_base_ = ['./_base_/cliper.py', './_base_/datasets/cocoobject.py']
model = dict(backbone=dict(cliper=dict(logit_scale=50.0, attention_thr=0.2)),
             decode_head=dict(class_names='cocoobject', name_file='cliper/cls_coco81',
                              text_encoder=dict(templates='imagenet80')),
             score_threshold=0.3,
             bkg_thre=0.3,
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
