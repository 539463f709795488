# TagCLIP, COCO-Stuff inductive with the strictly inductive trusty target ('not_seen'); see the VOC strict config.
_base_ = ['tagclip-inductive_vpt-vit-b16_80k_cocostuff171.py']
model = dict(decode_head=dict(trusty_target='not_seen'))
