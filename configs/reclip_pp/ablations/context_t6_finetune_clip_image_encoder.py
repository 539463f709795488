# Table VI: fine-tune the CLIP image encoder on context59; paper mIoU: 0.4.
#   python tools/train.py configs/reclip_pp/ablations/context_t6_finetune_clip_image_encoder.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../context_rectify.py']
# The paper's negative result: the image tower joins the optimiser and every checkpoint (~350 MB for ViT-B/16).
model = dict(backbone=dict(trainable=True))
work_dir = './work_dirs/ablations/context_t6_finetune_clip_image_encoder'
