# Table III: ReCLIP (no decoder, whole-image hypotheses, image-dependent bias) on voc20; paper mIoU: 58.5.
#   python tools/train.py configs/reclip_pp/ablations/t3-reclip_vit-b16_20k_voc20.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../../reclip/reclip_vit-b16_20k_voc20.py']
# The conference variant itself (configs/reclip/reclip_vit-b16_20k_voc20.py), as its Table III row.
