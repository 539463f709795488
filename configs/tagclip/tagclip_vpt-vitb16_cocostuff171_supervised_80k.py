# TagCLIP, COCO-Stuff fully supervised upper bound (all 171 classes seen; reported in the ZS split's S / U columns).
_base_ = ['./tagclip_vpt-vitb16_cocostuff171_inductive_80k.py']
# The release's COCO supervised config keeps the trusty token (layer-1 self-attention) and trains it towards all-zero
# targets (discriminate=True: no class is unseen); at test it does not gate (eval_disc_weight=False). VOC's has none.
model = dict(decode_head=dict(unseen_idx=[], use_trusty=True, trusty_eval='none'))
