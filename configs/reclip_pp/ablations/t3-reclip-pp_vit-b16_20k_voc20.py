# Table III: + Independent bias encoding (= ReCLIP++) on voc20; paper mIoU: 73.5.
#   python tools/train.py configs/reclip_pp/ablations/t3-reclip-pp_vit-b16_20k_voc20.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../reclip-pp_vit-b16_20k_voc20.py']
# ReCLIP++ itself (configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py), as its table row.
