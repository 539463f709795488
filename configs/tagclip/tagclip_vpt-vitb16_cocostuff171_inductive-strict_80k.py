# TagCLIP, COCO-Stuff inductive with the strictly inductive trusty target ('not_seen'); see the VOC strict config.
_base_ = ['./tagclip_vpt-vitb16_cocostuff171_inductive_80k.py']
model = dict(decode_head=dict(trusty_target='not_seen'))
