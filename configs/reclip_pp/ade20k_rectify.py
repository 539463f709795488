# ReCLIP++ rectification stage on ade20k (SPEC.md §3-7, §9).
#   python tools/gen_hypotheses.py configs/reclip_pp/ade20k_rectify.py   # once, before training
#   python tools/train.py configs/reclip_pp/ade20k_rectify.py
#   python tools/test.py configs/reclip_pp/ade20k_rectify.py work_dirs/ade20k_rectify/iter_80000.pth
_base_ = [
    '../_base_/models/reclip_vit_b16.py', '../_base_/datasets/ade20k.py',
    '../_base_/schedules/sgd_poly_80k.py', '../_base_/default_runtime.py'
]
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=0.5))
# The release counts epochs; SPEC.md does not give their number. ADE20K train: 20,210 images at batch 1, so 80k iterations ~ 4 epochs.
default_hooks = dict(checkpoint=dict(interval=8000))  # and validation: every tenth of the schedule
