# ReCLIP (CVPR 2024) distillation stage on context59, as the authors released it (SPEC.md §12), after
# configs/reclip/context_rectify.py:
#   python tools/train.py configs/reclip/context_distill.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip_context_rectify/iter_40000.pth
#   python tools/test.py configs/reclip/context_distill.py work_dirs/reclip_context_distill/iter_40000.pth
_base_ = [
    '../_base_/models/deeplabv2_r50_reclip_distill.py', '../_base_/datasets/context59.py',
    '../_base_/schedules/sgd_poly_40k.py', '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip/context_rectify.py',
                 checkpoint='work_dirs/reclip_context_rectify/iter_40000.pth'))
# The text-guided term (a switch, weight 0.5 as ReCLIP++) reads the teacher's whole-image hypotheses.
hypotheses = dict(_delete_=True, mode='whole_image', threshold=0.2, top_k=6, batch_size=64,
                  file='reclip_hypotheses/context59_train_whole_image.json')
work_dir = './work_dirs/reclip_context_distill'  # not work_dirs/context_distill: that is ReCLIP++'s
train_dataloader = dict(dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # + labels: ignored pixels
default_hooks = dict(checkpoint=dict(interval=4000))  # and validation: every tenth of the schedule
