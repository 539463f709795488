# Table VIII: + text-guided (= ReCLIP++ distillation) on voc20; paper mIoU: 79.2.
#   python tools/train.py configs/reclip_pp/ablations/t8-mask-feature-text_vit-b16_20k_voc20.py --cfg-options model.teacher.checkpoint=work_dirs/reclip-pp_vit-b16_20k_voc20/iter_N.pth
_base_ = ['../reclip-pp-distill_r101_20k_voc20.py']
# ReCLIP++ distillation itself (configs/reclip_pp/reclip-pp-distill_r101_20k_voc20.py), as its table row.
