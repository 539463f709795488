# ReCLIP (CVPR 2024) distillation stage on voc20, as the authors released it (SPEC.md §12), after
# configs/reclip/voc_rectify.py:
#   python tools/train.py configs/reclip/voc_distill.py \
#       --cfg-options model.teacher.checkpoint=work_dirs/reclip_voc_rectify/iter_20000.pth
#   python tools/test.py configs/reclip/voc_distill.py work_dirs/reclip_voc_distill/iter_20000.pth
_base_ = [
    '../_base_/models/deeplabv2_r50_reclip_distill.py', '../_base_/datasets/voc20.py',
    '../_base_/schedules/sgd_poly_20k.py', '../_base_/default_runtime.py'
]
model = dict(
    decode_head=dict(class_names={{_base_.vocabulary}}),
    teacher=dict(config='configs/reclip/voc_rectify.py',
                 checkpoint='work_dirs/reclip_voc_rectify/iter_20000.pth'))
# The text-guided term (a switch, weight 0.5 as ReCLIP++) reads the teacher's whole-image hypotheses.
hypotheses = dict(_delete_=True, mode='whole_image', threshold=0.23, top_k=2, batch_size=64,
                  file='reclip_hypotheses/voc20_train_whole_image.json')
work_dir = './work_dirs/reclip_voc_distill'  # not work_dirs/voc_distill: that is ReCLIP++'s
train_dataloader = dict(dataset=dict(pipeline={{_base_.distill_train_pipeline}}))  # + labels: ignored pixels
default_hooks = dict(checkpoint=dict(interval=2000))  # and validation: every tenth of the schedule
