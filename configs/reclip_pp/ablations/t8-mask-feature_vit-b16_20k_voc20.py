# Table VIII: + feature-guided on voc20; paper mIoU: 78.9.
#   python tools/train.py configs/reclip_pp/ablations/t8-mask-feature_vit-b16_20k_voc20.py --cfg-options model.teacher.checkpoint=work_dirs/reclip-pp_vit-b16_20k_voc20/iter_N.pth
_base_ = ['../reclip-pp-distill_r101_20k_voc20.py']
model = dict(decode_head=dict(loss_text=dict(loss_weight=0.0)))
