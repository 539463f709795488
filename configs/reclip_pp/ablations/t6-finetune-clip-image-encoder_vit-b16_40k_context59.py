# Table VI: fine-tune the CLIP image encoder on context59; paper mIoU: 0.4.
#   python tools/train.py configs/reclip_pp/ablations/t6-finetune-clip-image-encoder_vit-b16_40k_context59.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../reclip-pp_vit-b16_40k_context59.py']
# The paper's negative result: the image tower joins the optimiser and every checkpoint (~350 MB for ViT-B/16).
model = dict(backbone=dict(trainable=True))
