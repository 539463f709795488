# SFP (ICCV'25; attention-based outlier repair, self-adjusting, multi-level) on voc20, training-free protocol (./_base_/protocol.py): python tools/test.py THIS_FILE
_base_ = ['./_base_/voc20.py']
model = dict(backbone=dict(dense_mode='sfp'), decode_head=dict(class_names={{_base_.vocabulary}}),
             prob_thd={{_base_.prob_thd}})
