# TagCLIP / ZegCLIP schedule (docs/tagclip.md §4.1-4.2): AdamW 2e-5, wd 0.01, x10 on the backbone (prompts) and the head
# (so 2e-4 in effect), 1,500-iteration linear warm-up multiplied into a poly 0.9 to 1e-6 over the whole run; batch 16 = 2 per GPU x 8 GPUs.
# Other lengths: the config sets max_iters in train_cfg and the scheduler's end (see configs/tagclip/*_80k.py); the
# checkpoint interval is half the schedule (the release's); a config of another length sets both.
_base_ = ['../default_runtime.py']
optimizer = dict(type='AdamW', lr=2e-5, weight_decay=0.01)
optim_wrapper = dict(
    type='OptimWrapper', optimizer=optimizer, clip_grad=None,
    # Keys match longest first: every trainable parameter is backbone.*prompt* or decode_head.*, so 'norm'/'ln'
    # never fire, exactly as in the release (kept for fidelity).
    paramwise_cfg=dict(custom_keys=dict(backbone=dict(lr_mult=10.0), text_encoder=dict(lr_mult=0.0),
                                        norm=dict(decay_mult=0.0), ln=dict(decay_mult=0.0),
                                        head=dict(lr_mult=10.0))))
max_iters = 20000
warmup_iters = 1500
# mmcv 1.x (the release) multiplies the linear warm-up factor into a poly curve that runs from iteration 0;
# WarmupPolyLR sets exactly that value per iteration (MMEngine's LinearLR + PolyLR chain step by step and end up
# 2-7 % high). Pinned against mmcv 1.x's formula in tests/tagclip/test_tagclip_release.py.
param_scheduler = [
    dict(type='WarmupPolyLR', power=0.9, eta_min=1e-6, warmup_iters=warmup_iters, warmup_ratio=1e-6, begin=0,
         end=max_iters, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)  # evaluate at the end
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=16)
# The release runs DDP with unused parameters allowed (the trusty token is off in some configs).
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
default_hooks = dict(checkpoint=dict(interval=max_iters // 2))
