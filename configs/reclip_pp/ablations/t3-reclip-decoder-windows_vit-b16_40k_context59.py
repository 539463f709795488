# Table III: + Label Hypothesis (windows) on context59; paper mIoU: 33.1.
#   python tools/train.py configs/reclip_pp/ablations/t3-reclip-decoder-windows_vit-b16_40k_context59.py  (after tools/gen_hypotheses.py on it)
_base_ = ['t3-reclip-decoder_vit-b16_40k_context59.py']
# ReCLIP++'s window hypotheses (docs/reclip_pp.md §5) instead of the whole image: the dataset base's settings and file.
hypotheses = dict(_delete_=True, window_size=80, window_stride=40, file='hypotheses/reclip_pp/context59_train.json')
