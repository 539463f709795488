# TagCLIP, COCO-Stuff transductive: self-training from the inductive iter_40000, 40k iterations, batch 1 per GPU
# (x 8), trusty token trained (the release's COCO transductive config keeps it) but not used for gating.
_base_ = ['tagclip-inductive_vpt-vit-b16_80k_cocostuff171.py']
model = dict(decode_head=dict(self_training=True, seen_bias=0.0, trusty_eval='none'))
load_from = 'work_dirs/tagclip-inductive_vpt-vit-b16_80k_cocostuff171/iter_40000.pth'
train_dataloader = dict(batch_size=1)
max_iters = 40000
param_scheduler = [
    dict(type='WarmupPolyLR', power=0.9, eta_min=1e-6, warmup_iters=1500, warmup_ratio=1e-6, begin=0,
         end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
