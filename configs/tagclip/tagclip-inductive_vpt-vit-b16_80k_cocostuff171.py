# TagCLIP, COCO-Stuff 164K inductive zero-shot: 156 seen / 15 unseen classes, 100 prompt tokens, 15-template text
# ensemble with the raw class names, 80k iterations (docs/tagclip.md §1.2, §2.2, §4.2).
_base_ = ['../_base_/models/tagclip_vpt_vit_b16.py', '../_base_/datasets/cocostuff171_512.py',
          '../_base_/schedules/tagclip_adamw_20k.py']
model = dict(backbone=dict(num_tokens=100),
             decode_head=dict(class_names={{_base_.vocabulary}}, unseen_idx={{_base_.unseen_idx}},
                              text_encoder=dict(templates='zegclip15')))
max_iters = 80000
param_scheduler = [
    dict(type='WarmupPolyLR', power=0.9, eta_min=1e-6, warmup_iters=1500, warmup_ratio=1e-6, begin=0,
         end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
