# CLIPer (ICCV'25) without FGC on cocostuff171, its authors' protocol (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_stuff164.yaml): python tools/test.py configs/training_free/authors/cliper_vit-b16_cocostuff171.py
# Inference: whole image: the active line (:25); the slide line (:27) is commented.
# Row: size 336, templates cliper_car15, logit scale 50, score_threshold 0.1, bkg_thre 0.1,
# is_normalize False, attention_thr 0.2, ignore_labels [0, 255] (docs/training_free.md §6.5).
# Labels: CLIPer reads its stuff_anno164 maps + 1 (255 kept) and ignores [0, 255]; read as the 171 train ids
# 0..170 (which its 172-line name file assumes; the encoding is not documented), those are this dataset's
# labelTrainIds with 1 added: 0 never occurs, so CLIPer's l is class l - 1 here, its background (l = 0) is 255
# (no class), and the ignored set is 255.
_base_ = ['./_base_/cliper.py', './_base_/datasets/cocostuff171.py']
model = dict(backbone=dict(cliper=dict(logit_scale=50.0, attention_thr=0.2)),
             decode_head=dict(class_names='cocostuff171', name_file='cliper/cls_coco_stuff172',
                              text_encoder=dict(templates='cliper_car15')),
             score_threshold=0.1,
             bkg_thre=0.1,
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
