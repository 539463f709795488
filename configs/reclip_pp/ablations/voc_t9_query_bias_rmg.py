# Table IX: + RMG (= ReCLIP++ distillation) on voc20; paper mIoU: 79.2.
#   python tools/train.py configs/reclip_pp/ablations/voc_t9_query_bias_rmg.py --cfg-options model.teacher.checkpoint=work_dirs/voc_rectify/iter_N.pth
_base_ = ['../voc_distill.py']
# ReCLIP++ distillation itself: Query + bias logits + the Rectified Mask Generation decoder.
work_dir = './work_dirs/ablations/voc_t9_query_bias_rmg'
