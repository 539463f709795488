# TagCLIP, VOC transductive: self-training on all 20 classes from the inductive run's mid-schedule checkpoint
# (iter_10000; the release README's path to the transductive run is a typo, docs/tagclip.md §7-3). Unseen-GT pixels get
# the current model's most likely unseen class each iteration (ZegCLIP's semantics; the release's sentinel bug that
# disabled it is fixed). No calibration, no trusty token (the release's VOC transductive config).
_base_ = ['tagclip-inductive_vpt-vit-b16_20k_voc20.py']
model = dict(decode_head=dict(self_training=True, seen_bias=0.0, use_trusty=False, trusty_eval='none'))
load_from = 'work_dirs/tagclip-inductive_vpt-vit-b16_20k_voc20/iter_10000.pth'
max_iters = 10000
param_scheduler = [
    dict(type='WarmupPolyLR', power=0.9, eta_min=1e-6, warmup_iters=1500, warmup_ratio=1e-6, begin=0,
         end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
