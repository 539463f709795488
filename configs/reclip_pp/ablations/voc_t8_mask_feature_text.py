# Table VIII: + text-guided (= ReCLIP++ distillation) on voc20; paper mIoU: 79.2.
#   python tools/train.py configs/reclip_pp/ablations/voc_t8_mask_feature_text.py --cfg-options model.teacher.checkpoint=work_dirs/voc_rectify/iter_N.pth
_base_ = ['../voc_distill.py']
# ReCLIP++ distillation itself (configs/reclip_pp/voc_distill.py), under the ablation work dir.
work_dir = './work_dirs/ablations/voc_t8_mask_feature_text'
