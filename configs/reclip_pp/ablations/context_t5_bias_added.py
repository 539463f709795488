# Table V: bias added instead of subtracted on context59; paper mIoU: 32.9.
#   python tools/train.py configs/reclip_pp/ablations/context_t5_bias_added.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../context_rectify.py']
model = dict(decode_head=dict(bias_mode='add'))  # L_r = L_q + L_b
work_dir = './work_dirs/ablations/context_t5_bias_added'
