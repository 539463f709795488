# ZegCLIP (the baseline TagCLIP's +7.4 VOC unseen IoU is measured against): the same backbone and decoder without
# the trusty token and without query self-attention; ZegCLIP's mask-loss weight 100 (TagCLIP uses 20).
_base_ = ['tagclip-inductive_vpt-vit-b16_20k_voc20.py']
model = dict(decode_head=dict(use_trusty=False, trusty_eval='none', layer_types=('cross', 'cross', 'cross'),
                              loss_decode=dict(mask_weight=100.0)))
