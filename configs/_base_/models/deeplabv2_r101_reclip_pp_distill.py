# ReCLIP++ distillation stage (docs/reclip_pp.md §8): DeepLab V2 student (ResNet-101 V1c, output stride 8, ASPP-v2 to
# 512-d features) predicting through the rectified head it inherits, frozen, from the rectification checkpoint.
_base_ = ['./clip_vit_b16.py']
# The release ImageNet-normalises the augmented crop for the student and feeds the same tensor, as it is, to the
# CLIP teacher (docs/reclip_pp.md §8). CLIP's normalisation instead (switch): mean=[122.771, 116.746, 104.094],
# std=[68.501, 66.632, 70.323] in model.data_preprocessor.
data_preprocessor = dict(
    type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
    pad_val=0, seg_pad_val=255, size_divisor=16, test_cfg=dict(size_divisor=16))
model = dict(
    type='ReCLIPDistiller',
    data_preprocessor=data_preprocessor,  # release: ImageNet mean/std for student and teacher
    backbone=dict(
        type='ResNetV1c', depth=101, num_stages=4, out_indices=(3, ), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch', contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')),  # ImageNet (MMSeg's usual)
    decode_head=dict(
        type='RectifiedDistillHead',
        class_names='voc20',
        in_channels=2048,
        # None: from the teacher's CLIP (ViT-B/16: embedding 512, vision width 768, 197 positions; docs/reclip_pp.md §8),
        # so a teacher with another CLIP (model.teacher.clip) needs no other setting
        channels=None,
        clip_width=None,
        clip_positions=None,
        aspp=dict(dilations=(6, 12, 18, 24)),
        gumbel=dict(type='GumbelMask', scale=100.0, tau=1.0),
        # L = L_mask + 0.5 L_feat + 0.5 L_text (release weights); the release's last two act on a detached
        # tensor and do nothing there - here they train. Set a loss_weight to 0 to switch one off.
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, loss_name='loss_mask'),
        loss_feat=dict(type='FeatureDistillLoss', loss_weight=0.5, loss_name='loss_feat'),
        loss_text=dict(type='MaskedContrastiveLoss', logit_scale=100.0, loss_weight=0.5, loss_name='loss_text')),
    # cfg_options: overrides of the teacher config; clip: CLIP options given to every CLIP of the teacher config
    # (backbone and text encoder), e.g. clip.model_name=reclip-tiny clip.pretrained=None offline
    # norm_stats: 'running' (the teacher's BatchNorms use their stored statistics) or 'batch' (ReCLIP's release)
    teacher=dict(config=None, checkpoint=None, cfg_options=dict(), clip=dict(), norm_stats='running'),
    ignore_label_pixels=True,  # pixels labelled 255 (ignored / background, padding) get no pseudo label (docs/reclip_pp.md §8)
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
