# SC-CLIP (TIP'25; LOF outlier repair, self-adjusting, multi-level) on voc21, training-free protocol (./_base_/protocol.py): python tools/test.py THIS_FILE
_base_ = ['./_base_/voc21.py']
model = dict(backbone=dict(dense_mode='sc_clip'), decode_head=dict(class_names={{_base_.vocabulary}}),
             prob_thd={{_base_.prob_thd}})
