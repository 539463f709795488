# Table III: + Label Hypothesis (windows) on voc20; paper mIoU: 70.4.
#   python tools/train.py configs/reclip_pp/ablations/voc_t3_reclip_decoder_windows.py  (after tools/gen_hypotheses.py on it)
_base_ = ['./voc_t3_reclip_decoder.py']
# ReCLIP++'s window hypotheses (SPEC.md §5) instead of the whole image: the dataset base's settings and file.
hypotheses = dict(_delete_=True, window_size=56, window_stride=28, min_vote_share=0.0,
                  window_cover='release', batch_size=64, file='reclip_hypotheses/voc20_train.json')
work_dir = './work_dirs/ablations/voc_t3_reclip_decoder_windows'
