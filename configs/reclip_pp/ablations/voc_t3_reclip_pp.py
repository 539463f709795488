# Table III: + Independent bias encoding (= ReCLIP++) on voc20; paper mIoU: 73.5.
#   python tools/train.py configs/reclip_pp/ablations/voc_t3_reclip_pp.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../voc_rectify.py']
# ReCLIP++ itself (configs/reclip_pp/voc_rectify.py), under the ablation work dir.
work_dir = './work_dirs/ablations/voc_t3_reclip_pp'
