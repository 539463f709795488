# ReCLIP's data on voc20: the dataset base with the conference version's whole-image hypotheses (docs/reclip_pp.md
# §12), read by both stages: the rectification makes them, the distillation's text-guided term reads them.
_base_ = ['../../_base_/datasets/voc20.py']
# Whole-image hypotheses: classes with cos(global, T_q) >= 0.23, else the top 2. Their own file, so that they
# never mix with ReCLIP++'s window hypotheses (hypotheses.file replaces the train pipeline's file).
hypotheses = dict(_delete_=True, mode='whole_image', threshold=0.23, top_k=2,
                  file='hypotheses/reclip/voc20_train_whole_image.json')
