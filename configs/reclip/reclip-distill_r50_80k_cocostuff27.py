# ReCLIP (CVPR 2024) distillation stage on cocostuff27, as the authors released it (docs/reclip_pp.md §12), after
# configs/reclip/reclip_vit-b16_80k_cocostuff27.py:
#   python tools/train.py configs/reclip/reclip-distill_r50_80k_cocostuff27.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip_vit-b16_80k_cocostuff27/iter_80000.pth
#   python tools/test.py configs/reclip/reclip-distill_r50_80k_cocostuff27.py work_dirs/reclip-distill_r50_80k_cocostuff27/iter_80000.pth
_base_ = [
    '../_base_/models/deeplabv2_r50_reclip_distill.py', './_base_/cocostuff27.py',
    '../_base_/schedules/sgd_poly_80k.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip/reclip_vit-b16_80k_cocostuff27.py',
                 checkpoint='work_dirs/reclip_vit-b16_80k_cocostuff27/iter_80000.pth'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # + labels: ignored pixels
