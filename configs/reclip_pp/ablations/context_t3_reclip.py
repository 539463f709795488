# Table III: ReCLIP (no decoder, whole-image hypotheses, image-dependent bias) on context59; paper mIoU: 25.8.
#   python tools/train.py configs/reclip_pp/ablations/context_t3_reclip.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../../reclip/context_rectify.py']
# The conference variant itself (configs/reclip/context_rectify.py), under the ablation work dir.
work_dir = './work_dirs/ablations/context_t3_reclip'
