# Table V: bias added instead of subtracted on context59; paper mIoU: 32.9.
#   python tools/train.py configs/reclip_pp/ablations/t5-bias-added_vit-b16_40k_context59.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../reclip-pp_vit-b16_40k_context59.py']
model = dict(decode_head=dict(bias_mode='add'))  # L_r = L_q + L_b
