# ReCLIP's data on context59: the dataset base with the conference version's whole-image hypotheses (docs/reclip_pp.md
# §12), read by both stages: the rectification makes them, the distillation's text-guided term reads them.
_base_ = ['../../_base_/datasets/context59.py']
# Whole-image hypotheses: classes with cos(global, T_q) >= 0.2, else the top 6. Their own file, so that they
# never mix with ReCLIP++'s window hypotheses (hypotheses.file replaces the train pipeline's file).
hypotheses = dict(_delete_=True, mode='whole_image', threshold=0.2, top_k=6,
                  file='hypotheses/reclip/context59_train_whole_image.json')
