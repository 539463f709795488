# TagCLIP, VOC fully supervised upper bound: every class seen in training; still reported in the zero-shot
# split's S / U columns (the metric keeps unseen_idx).
_base_ = ['./tagclip_vpt-vitb16_voc20_inductive_20k.py']
model = dict(decode_head=dict(unseen_idx=[], use_trusty=False, trusty_eval='none'))
