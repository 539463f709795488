# ReCLIP++ rectification stage on voc20 (docs/reclip_pp.md §3-7, §9).
#   python tools/gen_hypotheses.py configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py   # once, before training
#   python tools/train.py configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py
#   python tools/test.py configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py work_dirs/reclip-pp_vit-b16_20k_voc20/iter_20000.pth
_base_ = [
    '../_base_/models/reclip_pp_vit_b16.py', '../_base_/datasets/voc20.py',
    '../_base_/schedules/sgd_poly_20k.py'
]
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=1.0))
# The release counts epochs; docs/reclip_pp.md does not give their number. VOC train: 1,464 images at batch 1, so 20k iterations ~ 13.7 epochs.
