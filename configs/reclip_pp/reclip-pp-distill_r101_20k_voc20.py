# ReCLIP++ distillation stage on voc20 (docs/reclip_pp.md §8), after configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py:
#   python tools/train.py configs/reclip_pp/reclip-pp-distill_r101_20k_voc20.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip-pp_vit-b16_20k_voc20/iter_20000.pth
#   python tools/test.py configs/reclip_pp/reclip-pp-distill_r101_20k_voc20.py work_dirs/reclip-pp-distill_r101_20k_voc20/iter_20000.pth
# The train pipeline reads the same hypotheses as the rectification stage (text-guided loss).
_base_ = [
    '../_base_/models/deeplabv2_r101_reclip_pp_distill.py', '../_base_/datasets/voc20.py',
    '../_base_/schedules/sgd_poly_20k.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py',
                 checkpoint='work_dirs/reclip-pp_vit-b16_20k_voc20/iter_20000.pth'))
# The release distils at batch 16 with SGD lr 0.01 (docs/reclip_pp.md §8); + labels: ignored pixels.
train_dataloader = dict(batch_size=16, dataset=dict(pipeline={{_base_.distill_train_pipeline}}))
