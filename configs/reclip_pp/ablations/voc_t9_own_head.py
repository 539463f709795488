# Table IX: student with DeepLab's own head on voc20; paper mIoU: 76.2.
#   python tools/train.py configs/reclip_pp/ablations/voc_t9_own_head.py --cfg-options model.teacher.checkpoint=work_dirs/voc_rectify/iter_N.pth
_base_ = ['../voc_distill.py']
# ASPP-v2 + a learned 1x1 classifier trained by CE on the teacher's pseudo labels; nothing inherited.
model = dict(decode_head=dict(_delete_=True, type='DeepLabV2Head', in_channels=2048, channels=512,
                              num_classes=20, dilations=(6, 12, 18, 24), dropout_ratio=0.0,
                              loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, loss_name='loss_mask')))
work_dir = './work_dirs/ablations/voc_t9_own_head'
