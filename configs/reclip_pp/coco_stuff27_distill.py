# ReCLIP++ distillation stage on coco_stuff27 (SPEC.md §8), after configs/reclip_pp/coco_stuff27_rectify.py:
#   python tools/train.py configs/reclip_pp/coco_stuff27_distill.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/coco_stuff27_rectify/iter_80000.pth
#   python tools/test.py configs/reclip_pp/coco_stuff27_distill.py work_dirs/coco_stuff27_distill/iter_80000.pth
# The train pipeline reads the same hypotheses as the rectification stage (text-guided loss).
_base_ = [
    '../_base_/models/deeplabv2_r101_distill.py', '../_base_/datasets/coco_stuff27.py',
    '../_base_/schedules/sgd_poly_80k.py', '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip_pp/coco_stuff27_rectify.py',
                 checkpoint='work_dirs/coco_stuff27_rectify/iter_80000.pth'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # + labels: ignored pixels
default_hooks = dict(checkpoint=dict(interval=8000))  # and validation: every tenth of the schedule
