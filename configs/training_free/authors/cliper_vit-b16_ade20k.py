# CLIPer (ICCV'25) without FGC on ade20k, its authors' protocol (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_ade150.yaml): python tools/test.py configs/training_free/authors/cliper_vit-b16_ade20k.py
# Inference: whole image: the active line (:26); the slide line (:28) is commented.
# Row: size 336, templates cliper_car15, logit scale 100, score_threshold 0.3, bkg_thre 0.3,
# is_normalize False, attention_thr 0.2, ignore_labels [0, 255] (docs/training_free.md §6.5).
# Labels: CLIPer reads the official maps as stored (0 = other, 1..150) and ignores [0, 255]; this dataset's
# reduce_zero_label makes 0 -> 255 and 1..150 -> 0..149: CLIPer's l is class l - 1 here, its background
# (l = 0) is 255 (no class), the ignored set is 255.
_base_ = ['./_base_/cliper.py', './_base_/datasets/ade20k.py']
model = dict(backbone=dict(cliper=dict(logit_scale=100.0, attention_thr=0.2)),
             decode_head=dict(class_names='ade20k', name_file='cliper/cls_ade20k',
                              text_encoder=dict(templates='cliper_car15')),
             score_threshold=0.3,
             bkg_thre=0.3,
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
