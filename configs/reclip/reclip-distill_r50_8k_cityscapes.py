# ReCLIP (CVPR 2024) distillation stage on cityscapes, as the authors released it (docs/reclip_pp.md §12), after
# configs/reclip/reclip_vit-b16_8k_cityscapes.py:
#   python tools/train.py configs/reclip/reclip-distill_r50_8k_cityscapes.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip_vit-b16_8k_cityscapes/iter_8000.pth
#   python tools/test.py configs/reclip/reclip-distill_r50_8k_cityscapes.py work_dirs/reclip-distill_r50_8k_cityscapes/iter_8000.pth
_base_ = [
    '../_base_/models/deeplabv2_r50_reclip_distill.py', './_base_/cityscapes.py',
    '../_base_/schedules/sgd_poly_8k.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip/reclip_vit-b16_8k_cityscapes.py',
                 checkpoint='work_dirs/reclip_vit-b16_8k_cityscapes/iter_8000.pth'))

train_dataloader = dict(batch_size=16,  # + labels: ignored pixels
                        dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # as ReCLIP++'s Cityscapes schedule (docs/reclip_pp.md §9)
optimizer = dict(type='SGD', lr=0.16, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(optimizer=optimizer)
