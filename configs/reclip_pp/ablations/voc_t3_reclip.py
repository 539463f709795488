# Table III: ReCLIP (no decoder, whole-image hypotheses, image-dependent bias) on voc20; paper mIoU: 58.5.
#   python tools/train.py configs/reclip_pp/ablations/voc_t3_reclip.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../../reclip/voc_rectify.py']
# The conference variant itself (configs/reclip/voc_rectify.py), under the ablation work dir.
work_dir = './work_dirs/ablations/voc_t3_reclip'
