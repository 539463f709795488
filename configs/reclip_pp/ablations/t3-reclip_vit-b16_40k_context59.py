# Table III: ReCLIP (no decoder, whole-image hypotheses, image-dependent bias) on context59; paper mIoU: 25.8.
#   python tools/train.py configs/reclip_pp/ablations/t3-reclip_vit-b16_40k_context59.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../../reclip/reclip_vit-b16_40k_context59.py']
# The conference variant itself (configs/reclip/reclip_vit-b16_40k_context59.py), as its Table III row.
