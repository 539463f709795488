# ReCLIP (CVPR 2024) distillation stage on cityscapes, as the authors released it (SPEC.md §12), after
# configs/reclip/cityscapes_rectify.py:
#   python tools/train.py configs/reclip/cityscapes_distill.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip_cityscapes_rectify/iter_8000.pth
#   python tools/test.py configs/reclip/cityscapes_distill.py work_dirs/reclip_cityscapes_distill/iter_8000.pth
_base_ = [
    '../_base_/models/deeplabv2_r50_reclip_distill.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/sgd_poly_8k.py', '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip/cityscapes_rectify.py',
                 checkpoint='work_dirs/reclip_cityscapes_rectify/iter_8000.pth'))
# The text-guided term (a switch, weight 0.5 as ReCLIP++) reads the teacher's whole-image hypotheses.
hypotheses = dict(_delete_=True, mode='whole_image', threshold=0.215, top_k=2, batch_size=64,
                  file='reclip_hypotheses/cityscapes_train_whole_image.json')
work_dir = './work_dirs/reclip_cityscapes_distill'  # not work_dirs/cityscapes_distill: that is ReCLIP++'s
default_hooks = dict(checkpoint=dict(interval=800))  # and validation: every tenth of the schedule

train_dataloader = dict(batch_size=16,  # + labels: ignored pixels
                        dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # as ReCLIP++'s Cityscapes schedule (SPEC.md §9)
optimizer = dict(type='SGD', lr=0.16, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(optimizer=optimizer)
