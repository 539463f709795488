# ReCLIP++ rectification stage on voc20 (SPEC.md §3-7, §9).
#   python tools/gen_hypotheses.py configs/reclip_pp/voc_rectify.py   # once, before training
#   python tools/train.py configs/reclip_pp/voc_rectify.py
#   python tools/test.py configs/reclip_pp/voc_rectify.py work_dirs/voc_rectify/iter_20000.pth
_base_ = [
    '../_base_/models/reclip_vit_b16.py', '../_base_/datasets/voc20.py',
    '../_base_/schedules/sgd_poly_20k.py', '../_base_/default_runtime.py'
]
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=1.0))
# The release counts epochs; SPEC.md does not give their number. VOC train: 1,464 images at batch 1, so 20k iterations ~ 13.7 epochs.
default_hooks = dict(checkpoint=dict(interval=2000))  # and validation: every tenth of the schedule
