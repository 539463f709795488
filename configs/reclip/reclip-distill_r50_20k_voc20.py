# ReCLIP (CVPR 2024) distillation stage on voc20, as the authors released it (docs/reclip_pp.md §12), after
# configs/reclip/reclip_vit-b16_20k_voc20.py:
#   python tools/train.py configs/reclip/reclip-distill_r50_20k_voc20.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip_vit-b16_20k_voc20/iter_20000.pth
#   python tools/test.py configs/reclip/reclip-distill_r50_20k_voc20.py work_dirs/reclip-distill_r50_20k_voc20/iter_20000.pth
_base_ = [
    '../_base_/models/deeplabv2_r50_reclip_distill.py', './_base_/voc20.py',
    '../_base_/schedules/sgd_poly_20k.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip/reclip_vit-b16_20k_voc20.py',
                 checkpoint='work_dirs/reclip_vit-b16_20k_voc20/iter_20000.pth'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # + labels: ignored pixels
