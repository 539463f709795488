# ReCLIP++ distillation stage on cityscapes (docs/reclip_pp.md §8), after configs/reclip_pp/reclip-pp_vit-b16_8k_cityscapes.py:
#   python tools/train.py configs/reclip_pp/reclip-pp-distill_r101_8k_cityscapes.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip-pp_vit-b16_8k_cityscapes/iter_8000.pth
#   python tools/test.py configs/reclip_pp/reclip-pp-distill_r101_8k_cityscapes.py work_dirs/reclip-pp-distill_r101_8k_cityscapes/iter_8000.pth
# The train pipeline reads the same hypotheses as the rectification stage (text-guided loss).
_base_ = [
    '../_base_/models/deeplabv2_r101_reclip_pp_distill.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/sgd_poly_8k.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip_pp/reclip-pp_vit-b16_8k_cityscapes.py',
                 checkpoint='work_dirs/reclip-pp_vit-b16_8k_cityscapes/iter_8000.pth'))
# The release distils at batch 16 with SGD lr 0.01 (docs/reclip_pp.md §8), on every dataset; + labels: ignored pixels.
train_dataloader = dict(batch_size=16, dataset=dict(pipeline={{_base_.distill_train_pipeline}}))
