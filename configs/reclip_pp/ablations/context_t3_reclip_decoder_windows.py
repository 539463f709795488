# Table III: + Label Hypothesis (windows) on context59; paper mIoU: 33.1.
#   python tools/train.py configs/reclip_pp/ablations/context_t3_reclip_decoder_windows.py  (after tools/gen_hypotheses.py on it)
_base_ = ['./context_t3_reclip_decoder.py']
# ReCLIP++'s window hypotheses (SPEC.md §5) instead of the whole image: the dataset base's settings and file.
hypotheses = dict(_delete_=True, window_size=80, window_stride=40, min_vote_share=0.0,
                  window_cover='release', batch_size=64, file='reclip_hypotheses/context59_train.json')
work_dir = './work_dirs/ablations/context_t3_reclip_decoder_windows'
