# ReCLIP++ rectification stage on context59 (docs/reclip_pp.md §3-7, §9).
#   python tools/gen_hypotheses.py configs/reclip_pp/reclip-pp_vit-b16_40k_context59.py   # once, before training
#   python tools/train.py configs/reclip_pp/reclip-pp_vit-b16_40k_context59.py
#   python tools/test.py configs/reclip_pp/reclip-pp_vit-b16_40k_context59.py work_dirs/reclip-pp_vit-b16_40k_context59/iter_40000.pth
_base_ = [
    '../_base_/models/reclip_pp_vit_b16.py', '../_base_/datasets/context59.py',
    '../_base_/schedules/sgd_poly_40k.py'
]
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=0.85))
# The release counts epochs; docs/reclip_pp.md does not give their number. Context train: 4,996 images at batch 1, so 40k iterations ~ 8 epochs.
