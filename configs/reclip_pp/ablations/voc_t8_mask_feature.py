# Table VIII: + feature-guided on voc20; paper mIoU: 78.9.
#   python tools/train.py configs/reclip_pp/ablations/voc_t8_mask_feature.py --cfg-options model.teacher.checkpoint=work_dirs/voc_rectify/iter_N.pth
_base_ = ['../voc_distill.py']
model = dict(decode_head=dict(loss_text=dict(loss_weight=0.0)))
work_dir = './work_dirs/ablations/voc_t8_mask_feature'
