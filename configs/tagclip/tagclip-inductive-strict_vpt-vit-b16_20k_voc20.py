# TagCLIP, VOC inductive, strictly inductive trusty target: 1 wherever the label is not a seen class (unseen,
# background, ignored), so training needs seen labels only. Not the release (see README "TagCLIP protocol").
_base_ = ['tagclip-inductive_vpt-vit-b16_20k_voc20.py']
model = dict(decode_head=dict(trusty_target='not_seen'))
