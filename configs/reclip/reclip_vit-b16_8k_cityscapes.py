# ReCLIP (CVPR 2024) rectification stage on cityscapes (docs/reclip_pp.md §12).
#   python tools/gen_hypotheses.py configs/reclip/reclip_vit-b16_8k_cityscapes.py   # whole-image hypotheses, once
#   python tools/train.py configs/reclip/reclip_vit-b16_8k_cityscapes.py
#   python tools/test.py configs/reclip/reclip_vit-b16_8k_cityscapes.py work_dirs/reclip_vit-b16_8k_cityscapes/iter_8000.pth
_base_ = [
    '../_base_/models/reclip_vit_b16.py', './_base_/cityscapes.py',
    '../_base_/schedules/sgd_poly_8k.py'
]
# Prompt denoising softmax(100 Z) at test time with the release's threshold (ReCLIP_PD: 0.5, Context 0.6; docs/reclip_pp.md §12).
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=0.5))

train_dataloader = dict(batch_size=16)  # as ReCLIP++'s Cityscapes schedule (docs/reclip_pp.md §9)
optimizer = dict(type='SGD', lr=0.16, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(optimizer=optimizer)
