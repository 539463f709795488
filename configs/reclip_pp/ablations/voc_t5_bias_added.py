# Table V: bias added instead of subtracted on voc20; paper mIoU: 72.4.
#   python tools/train.py configs/reclip_pp/ablations/voc_t5_bias_added.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../voc_rectify.py']
model = dict(decode_head=dict(bias_mode='add'))  # L_r = L_q + L_b
work_dir = './work_dirs/ablations/voc_t5_bias_added'
