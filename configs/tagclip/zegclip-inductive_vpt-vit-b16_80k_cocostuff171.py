# ZegCLIP baseline on COCO-Stuff inductive (TagCLIP's +1.7 unseen IoU is measured against it); see the VOC one.
_base_ = ['tagclip-inductive_vpt-vit-b16_80k_cocostuff171.py']
model = dict(decode_head=dict(use_trusty=False, trusty_eval='none', layer_types=('cross', 'cross', 'cross'),
                              loss_decode=dict(mask_weight=100.0)))
