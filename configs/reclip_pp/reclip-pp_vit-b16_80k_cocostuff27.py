# ReCLIP++ rectification stage on cocostuff27 (docs/reclip_pp.md §3-7, §9).
#   python tools/gen_hypotheses.py configs/reclip_pp/reclip-pp_vit-b16_80k_cocostuff27.py   # once, before training
#   python tools/train.py configs/reclip_pp/reclip-pp_vit-b16_80k_cocostuff27.py
#   python tools/test.py configs/reclip_pp/reclip-pp_vit-b16_80k_cocostuff27.py work_dirs/reclip-pp_vit-b16_80k_cocostuff27/iter_80000.pth
_base_ = [
    '../_base_/models/reclip_pp_vit_b16.py', '../_base_/datasets/cocostuff27.py',
    '../_base_/schedules/sgd_poly_80k.py'
]
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=0.95))
# The release counts epochs; docs/reclip_pp.md does not give their number. COCO-Stuff train2017: 118k images at batch 1, so 80k iterations ~ 0.7 epoch.
