# TagCLIP, PASCAL VOC 2012, inductive zero-shot: trained on the 15 seen classes, tested on all 20 (docs/tagclip.md).
# Evaluated as the method: seen-class calibration (sigmoid - 0.1) and trusty gating ('both'); the release's
# training config evaluates without gating (its *_eval.py adds it): model.decode_head.trusty_eval=none.
# The trusty map's target is the release's 'unseen_gt' (uses where unseen objects are, see README
# "TagCLIP protocol"); the strictly inductive variant is tagclip-inductive-strict_vpt-vit-b16_20k_voc20.py.
#   python tools/train.py configs/tagclip/tagclip-inductive_vpt-vit-b16_20k_voc20.py
#   python tools/test.py configs/tagclip/tagclip-inductive_vpt-vit-b16_20k_voc20.py work_dirs/<name>/iter_20000.pth
_base_ = ['../_base_/models/tagclip_vpt_vit_b16.py', '../_base_/datasets/voc20_aug_512.py',
          '../_base_/schedules/tagclip_adamw_20k.py']
model = dict(backbone=dict(num_tokens=10),
             decode_head=dict(class_names={{_base_.vocabulary}}, unseen_idx={{_base_.unseen_idx}}))
