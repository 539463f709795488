# ReCLIP++ rectification stage on cityscapes (docs/reclip_pp.md §3-7, §9).
#   python tools/gen_hypotheses.py configs/reclip_pp/reclip-pp_vit-b16_8k_cityscapes.py   # once, before training
#   python tools/train.py configs/reclip_pp/reclip-pp_vit-b16_8k_cityscapes.py
#   python tools/test.py configs/reclip_pp/reclip-pp_vit-b16_8k_cityscapes.py work_dirs/reclip-pp_vit-b16_8k_cityscapes/iter_8000.pth
_base_ = [
    '../_base_/models/reclip_pp_vit_b16.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/sgd_poly_8k.py'
]
model = dict(decode_head=dict(class_names={{_base_.vocabulary}}, denoise_threshold=0.5))
# The release counts epochs; docs/reclip_pp.md does not give their number. Cityscapes train: 2,975 images at batch 16, so 8k iterations ~ 43 epochs.

# docs/reclip_pp.md §9: Cityscapes trains at batch 16 with lr 0.16.
train_dataloader = dict(batch_size=16)
optimizer = dict(type='SGD', lr=0.16, momentum=0.9, weight_decay=5e-4)
optim_wrapper = dict(optimizer=optimizer)
