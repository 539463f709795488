# Table III: + Independent bias encoding (= ReCLIP++) on context59; paper mIoU: 34.0.
#   python tools/train.py configs/reclip_pp/ablations/context_t3_reclip_pp.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../context_rectify.py']
# ReCLIP++ itself (configs/reclip_pp/context_rectify.py), under the ablation work dir.
work_dir = './work_dirs/ablations/context_t3_reclip_pp'
