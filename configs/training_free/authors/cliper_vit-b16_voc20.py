# CLIPer (ICCV'25) without FGC on voc20, its authors' protocol (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_voc20.yaml): python tools/test.py configs/training_free/authors/cliper_vit-b16_voc20.py
# Inference: whole image: the active line `sliding_crop_size: 0` (:25); the slide-336 line (:27) is commented.
# Row: size 336, templates cliper_car15, logit scale 100, score_threshold 0, bkg_thre 0.001,
# is_normalize False, attention_thr 0.1, ignore_labels [0, 255] (docs/training_free.md §6.5).
# Labels: CLIPer scores VOC-21's label maps with 0 (background) and 255 ignored (ignore_labels [0, 255]); this
# dataset's reduce_zero_label makes the same pixels 255 and classes 1..20 -> 0..19, so CLIPer's label l is class
# l - 1 here, its background (l = 0) is 255 (no class: a miss, as in the release), and the ignored set is 255.
# The model still has its 25 background words and can predict background, as in the release.
_base_ = ['./_base_/cliper.py', './_base_/datasets/voc20.py']
model = dict(backbone=dict(cliper=dict(logit_scale=100.0, attention_thr=0.1)),
             decode_head=dict(class_names='voc20', name_file='cliper/cls_voc21',
                              text_encoder=dict(templates='cliper_car15')),
             score_threshold=0.0,
             bkg_thre=0.001,
             is_normalize=False,
             background_index=255,
             test_cfg=dict(mode='whole'))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='CLIPerResize', size=336),
                 dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]  # GT after the resize: scored at its size
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='PresentClassIoUMetric', ignore_index=255)  # ignore_labels [0, 255], as above
test_evaluator = val_evaluator
