# Table IX: student inherits the Query only on voc20; paper mIoU: 48.3.
#   python tools/train.py configs/reclip_pp/ablations/t9-query-only_vit-b16_20k_voc20.py --cfg-options model.teacher.checkpoint=work_dirs/reclip-pp_vit-b16_20k_voc20/iter_N.pth
_base_ = ['../reclip-pp-distill_r101_20k_voc20.py']
model = dict(decode_head=dict(classifier='query'))  # Z_s = F_s T_q
