# ReCLIP++ distillation stage on voc20 (SPEC.md §8), after configs/reclip_pp/voc_rectify.py:
#   python tools/train.py configs/reclip_pp/voc_distill.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/voc_rectify/iter_20000.pth
#   python tools/test.py configs/reclip_pp/voc_distill.py work_dirs/voc_distill/iter_20000.pth
# The train pipeline reads the same hypotheses as the rectification stage (text-guided loss).
_base_ = [
    '../_base_/models/deeplabv2_r101_distill.py', '../_base_/datasets/voc20.py',
    '../_base_/schedules/sgd_poly_20k.py', '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip_pp/voc_rectify.py',
                 checkpoint='work_dirs/voc_rectify/iter_20000.pth'))
train_dataloader = dict(dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # + labels: ignored pixels
default_hooks = dict(checkpoint=dict(interval=2000))  # and validation: every tenth of the schedule
