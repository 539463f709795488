# TagCLIP, COCO-Stuff fully supervised upper bound (all 171 classes seen; reported in the ZS split's S / U columns).
_base_ = ['./tagclip_vpt-vitb16_cocostuff171_inductive_80k.py']
model = dict(decode_head=dict(unseen_idx=[], use_trusty=False, trusty_eval='none'))
