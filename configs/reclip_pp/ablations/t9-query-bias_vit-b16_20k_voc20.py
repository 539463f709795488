# Table IX: student inherits Query + bias logits on voc20; paper mIoU: 50.6.
#   python tools/train.py configs/reclip_pp/ablations/t9-query-bias_vit-b16_20k_voc20.py --cfg-options model.teacher.checkpoint=work_dirs/reclip-pp_vit-b16_20k_voc20/iter_N.pth
_base_ = ['../reclip-pp-distill_r101_20k_voc20.py']
model = dict(decode_head=dict(classifier='query_bias'))  # Z_s = F_s T_q - L_b, no decoder
