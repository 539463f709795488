# Table VI: fine-tune the CLIP image encoder on voc20; paper mIoU: 1.2.
#   python tools/train.py configs/reclip_pp/ablations/t6-finetune-clip-image-encoder_vit-b16_20k_voc20.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../reclip-pp_vit-b16_20k_voc20.py']
# The paper's negative result: the image tower joins the optimiser and every checkpoint (~350 MB for ViT-B/16).
model = dict(backbone=dict(trainable=True))
