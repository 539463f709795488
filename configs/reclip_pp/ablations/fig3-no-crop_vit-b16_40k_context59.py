# Fig. 3: label hypothesis "w/o crop" on context59; paper mIoU: a curve (see the paper).
#   python tools/train.py configs/reclip_pp/ablations/fig3-no-crop_vit-b16_40k_context59.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../reclip-pp_vit-b16_40k_context59.py']
# Hypotheses from the whole image (CLIP's own preprocessing) instead of windows: its top-1 class only
# (threshold 1.0 is never reached, so the top-1 fallback decides).
hypotheses = dict(_delete_=True, mode='whole_image', threshold=1.0, top_k=1,
                  file='hypotheses/reclip_pp/context59_train_no_crop.json')
