# The SGD + poly schedule of sgd_poly_20k.py, 8k iterations.
_base_ = ['./sgd_poly_20k.py']
max_iters = 8000
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters // 10)
default_hooks = dict(checkpoint=dict(interval=max_iters // 10))
