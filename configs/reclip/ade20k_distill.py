# ReCLIP (CVPR 2024) distillation stage on ade20k, as the authors released it (SPEC.md §12), after
# configs/reclip/ade20k_rectify.py:
#   python tools/train.py configs/reclip/ade20k_distill.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip_ade20k_rectify/iter_80000.pth
#   python tools/test.py configs/reclip/ade20k_distill.py work_dirs/reclip_ade20k_distill/iter_80000.pth
_base_ = [
    '../_base_/models/deeplabv2_r50_reclip_distill.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/sgd_poly_80k.py', '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip/ade20k_rectify.py',
                 checkpoint='work_dirs/reclip_ade20k_rectify/iter_80000.pth'))
# The text-guided term (a switch, weight 0.5 as ReCLIP++) reads the teacher's whole-image hypotheses.
hypotheses = dict(_delete_=True, mode='whole_image', threshold=0.21, top_k=5, batch_size=64,
                  file='reclip_hypotheses/ade20k_train_whole_image.json')
work_dir = './work_dirs/reclip_ade20k_distill'  # not work_dirs/ade20k_distill: that is ReCLIP++'s
train_dataloader = dict(dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # + labels: ignored pixels
default_hooks = dict(checkpoint=dict(interval=8000))  # and validation: every tenth of the schedule
