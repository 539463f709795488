# Table III: + Independent bias encoding (= ReCLIP++) on context59; paper mIoU: 34.0.
#   python tools/train.py configs/reclip_pp/ablations/t3-reclip-pp_vit-b16_40k_context59.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../reclip-pp_vit-b16_40k_context59.py']
# ReCLIP++ itself (configs/reclip_pp/reclip-pp_vit-b16_40k_context59.py), as its table row.
