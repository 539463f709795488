# Cross-dataset, test only: the COCO-Stuff inductive checkpoint on PASCAL VOC val, 20 classes, every class "seen",
# no calibration, no trusty token (the release's cross-dataset configs; docs/tagclip.md §1.1). The checkpoint's trusty
# token is dropped by the non-strict load (MMEngine logs it as an unexpected key).
#   python tools/test.py configs/tagclip/tagclip_vpt-vit-b16_coco2voc20.py \
#       work_dirs/tagclip-inductive_vpt-vit-b16_80k_cocostuff171/iter_80000.pth
_base_ = ['tagclip-inductive_vpt-vit-b16_20k_voc20.py']
model = dict(backbone=dict(num_tokens=100),
             decode_head=dict(unseen_idx=[], use_trusty=False, trusty_eval='none', seen_bias=0.0))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], _delete_=True)
test_evaluator = val_evaluator
