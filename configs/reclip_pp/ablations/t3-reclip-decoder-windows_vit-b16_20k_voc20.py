# Table III: + Label Hypothesis (windows) on voc20; paper mIoU: 70.4.
#   python tools/train.py configs/reclip_pp/ablations/t3-reclip-decoder-windows_vit-b16_20k_voc20.py  (after tools/gen_hypotheses.py on it)
_base_ = ['t3-reclip-decoder_vit-b16_20k_voc20.py']
# ReCLIP++'s window hypotheses (docs/reclip_pp.md §5) instead of the whole image: the dataset base's settings and file.
hypotheses = dict(_delete_=True, window_size=56, window_stride=28, file='hypotheses/reclip_pp/voc20_train.json')
