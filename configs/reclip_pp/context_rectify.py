# ReCLIP++ rectification stage on context59 (SPEC.md §3-7, §9).
#   python tools/gen_hypotheses.py configs/reclip_pp/context_rectify.py   # once, before training
#   python tools/train.py configs/reclip_pp/context_rectify.py
#   python tools/test.py configs/reclip_pp/context_rectify.py work_dirs/context_rectify/iter_40000.pth
_base_ = [
    '../_base_/models/reclip_vit_b16.py', '../_base_/datasets/context59.py',
    '../_base_/schedules/sgd_poly_40k.py', '../_base_/default_runtime.py'
]
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=0.85))
# The release counts epochs; SPEC.md does not give their number. Context train: 4,996 images at batch 1, so 40k iterations ~ 8 epochs.
default_hooks = dict(checkpoint=dict(interval=4000))  # and validation: every tenth of the schedule
