# CLIPer (ICCV'25) without FGC on cityscapes, its authors' protocol (CLIPer@c05fa41:scripts/config/vit-b-16/ovs_city.yaml): python tools/test.py configs/training_free/authors/cliper_vit-b16_cityscapes.py
# Inference: whole image: the active line `sliding_crop_size: 0` (:24); the slide-224 line (:26) is commented.
# Row: size 560, templates imagenet80, logit scale 100, score_threshold 0, bkg_thre 0.0001,
# is_normalize False, attention_thr 0.35, ignore_labels [0, 255] (docs/training_free.md §6.5).
# Data: CLIPerCityscapesDataset, every image twice: index 2i its right half (columns from the height on), 2i + 1
# its left half (the first height columns), cut after the resize (CLIPerCityscapesHalf), as the release's loader.
# Labels: CLIPer reads gtFine_labelTrainIds + 1 (255 kept) and ignores [0, 255]: the same pixels as the train
# ids 0..18 with 255 ignored; CLIPer's l is class l - 1 here, its background (l = 0) is 255 (no class).
_base_ = ['./_base_/cliper.py', './_base_/datasets/cityscapes.py']
model = dict(backbone=dict(cliper=dict(logit_scale=100.0, attention_thr=0.35)),
             decode_head=dict(class_names='cityscapes', name_file='cliper/cls_city',
                              text_encoder=dict(templates='imagenet80')),
             score_threshold=0.0,
             bkg_thre=0.0001,
             is_normalize=False,
             background_index=255,
             test_cfg=dict(mode='whole'))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='CLIPerResize', size=560),
                 dict(type='LoadAnnotations'),
                 dict(type='CLIPerCityscapesHalf'),
                 # GT after the resize: scored at its size; cliper_half names the halves' files under --out
                 dict(type='PackSegInputs', meta_keys=('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                                                       'pad_shape', 'scale_factor', 'flip', 'flip_direction',
                                                       'reduce_zero_label', 'cliper_half'))]
val_dataloader = dict(dataset=dict(type='CLIPerCityscapesDataset', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='PresentClassIoUMetric', ignore_index=255)  # ignore_labels [0, 255], as above
test_evaluator = val_evaluator
