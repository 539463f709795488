# TagCLIP, PASCAL VOC 2012, inductive zero-shot: trained on the 15 seen classes, tested on all 20 (TAGCLIP.md).
# Evaluated as the method: seen-class calibration (sigmoid - 0.1) and trusty gating ('both'); the release's
# training config evaluates without gating (its *_eval.py adds it): model.decode_head.trusty_eval=none.
# The trusty map's target is the release's 'unseen_gt' (uses where unseen objects are, see README
# "TagCLIP protocol"); the strictly inductive variant is tagclip_vpt-vitb16_voc20_inductive-strict_20k.py.
#   python tools/train.py configs/tagclip/tagclip_vpt-vitb16_voc20_inductive_20k.py
#   python tools/test.py configs/tagclip/tagclip_vpt-vitb16_voc20_inductive_20k.py work_dirs/<name>/iter_20000.pth
_base_ = ['../_base_/models/tagclip_vpt_vit_b16.py', '../_base_/datasets/voc20_aug_512.py',
          '../_base_/schedules/tagclip_adamw_20k.py', '../_base_/default_runtime.py']
model = dict(backbone=dict(num_tokens=10),
             decode_head=dict(class_names={{_base_.vocabulary}}, unseen_idx={{_base_.unseen_idx}}))
default_hooks = dict(checkpoint=dict(interval=10000))  # the release's: half the schedule
