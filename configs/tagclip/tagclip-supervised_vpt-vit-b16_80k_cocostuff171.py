# TagCLIP, COCO-Stuff fully supervised upper bound (all 171 classes seen; reported in the ZS split's S / U columns).
_base_ = ['tagclip-inductive_vpt-vit-b16_80k_cocostuff171.py']
# The release's COCO supervised config keeps the trusty token (layer-1 self-attention) and trains it towards all-zero
# targets (discriminate=True: no class is unseen); at test it does not gate (eval_disc_weight=False). VOC's has none.
model = dict(decode_head=dict(unseen_idx=[], use_trusty=True, trusty_eval='none'))
