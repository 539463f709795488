# Table IX: student inherits Query + bias logits on voc20; paper mIoU: 50.6.
#   python tools/train.py configs/reclip_pp/ablations/voc_t9_query_bias.py --cfg-options model.teacher.checkpoint=work_dirs/voc_rectify/iter_N.pth
_base_ = ['../voc_distill.py']
model = dict(decode_head=dict(classifier='query_bias'))  # Z_s = F_s T_q - L_b, no decoder
work_dir = './work_dirs/ablations/voc_t9_query_bias'
