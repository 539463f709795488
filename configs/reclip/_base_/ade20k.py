# ReCLIP's data on ade20k: the dataset base with the conference version's whole-image hypotheses (docs/reclip_pp.md
# §12), read by both stages: the rectification makes them, the distillation's text-guided term reads them.
_base_ = ['../../_base_/datasets/ade20k.py']
# Whole-image hypotheses: classes with cos(global, T_q) >= 0.21, else the top 5. Their own file, so that they
# never mix with ReCLIP++'s window hypotheses (hypotheses.file replaces the train pipeline's file).
hypotheses = dict(_delete_=True, mode='whole_image', threshold=0.21, top_k=5,
                  file='hypotheses/reclip/ade20k_train_whole_image.json')
