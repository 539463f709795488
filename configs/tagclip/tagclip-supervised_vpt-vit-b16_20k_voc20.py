# TagCLIP, VOC fully supervised upper bound: every class seen in training; still reported in the zero-shot
# split's S / U columns (the metric keeps unseen_idx).
_base_ = ['tagclip-inductive_vpt-vit-b16_20k_voc20.py']
model = dict(decode_head=dict(unseen_idx=[], use_trusty=False, trusty_eval='none'))
