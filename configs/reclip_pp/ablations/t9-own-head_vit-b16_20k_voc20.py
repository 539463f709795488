# Table IX: student with DeepLab's own head on voc20; paper mIoU: 76.2.
#   python tools/train.py configs/reclip_pp/ablations/t9-own-head_vit-b16_20k_voc20.py --cfg-options model.teacher.checkpoint=work_dirs/reclip-pp_vit-b16_20k_voc20/iter_N.pth
_base_ = ['../reclip-pp-distill_r101_20k_voc20.py']
# ASPP-v2 + a learned 1x1 classifier trained by CE on the teacher's pseudo labels; nothing inherited.
model = dict(decode_head=dict(_delete_=True, type='DeepLabV2Head', in_channels=2048, channels=512,
                              num_classes=20, dilations=(6, 12, 18, 24), dropout_ratio=0.0,
                              loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, loss_name='loss_mask')))
