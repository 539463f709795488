# TagCLIP, VOC inductive, strictly inductive trusty target: 1 wherever the label is not a seen class (unseen,
# background, ignored), so training needs seen labels only. Not the release (see README "TagCLIP protocol").
_base_ = ['./tagclip_vpt-vitb16_voc20_inductive_20k.py']
model = dict(decode_head=dict(trusty_target='not_seen'))
