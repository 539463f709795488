# Table IX: student inherits the Query only on voc20; paper mIoU: 48.3.
#   python tools/train.py configs/reclip_pp/ablations/voc_t9_query_only.py --cfg-options model.teacher.checkpoint=work_dirs/voc_rectify/iter_N.pth
_base_ = ['../voc_distill.py']
model = dict(decode_head=dict(classifier='query'))  # Z_s = F_s T_q
work_dir = './work_dirs/ablations/voc_t9_query_only'
