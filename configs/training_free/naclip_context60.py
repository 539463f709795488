# NACLIP (WACV'25; its paper adds PAMR: model.pamr.enabled=True) on context60, training-free protocol (./_base_/protocol.py): python tools/test.py THIS_FILE
_base_ = ['./_base_/context60.py']
model = dict(backbone=dict(dense_mode='naclip'), decode_head=dict(class_names={{_base_.vocabulary}}),
             prob_thd={{_base_.prob_thd}})
