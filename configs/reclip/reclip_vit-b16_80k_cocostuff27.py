# ReCLIP (CVPR 2024) rectification stage on cocostuff27 (docs/reclip_pp.md §12).
#   python tools/gen_hypotheses.py configs/reclip/reclip_vit-b16_80k_cocostuff27.py   # whole-image hypotheses, once
#   python tools/train.py configs/reclip/reclip_vit-b16_80k_cocostuff27.py
#   python tools/test.py configs/reclip/reclip_vit-b16_80k_cocostuff27.py work_dirs/reclip_vit-b16_80k_cocostuff27/iter_80000.pth
_base_ = [
    '../_base_/models/reclip_vit_b16.py', './_base_/cocostuff27.py',
    '../_base_/schedules/sgd_poly_80k.py'
]
# Prompt denoising softmax(100 Z) at test time with the release's threshold (ReCLIP_PD: 0.5, Context 0.6; docs/reclip_pp.md §12).
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=0.5))
