# ReCLIP++ distillation stage (SPEC.md §8): DeepLab V2 student (ResNet-101 V1c, output stride 8, ASPP-v2 to
# 512-d features) predicting through the rectified head it inherits, frozen, from the rectification checkpoint.
_base_ = ['./clip_vit_b16.py']
model = dict(
    type='ReCLIPDistiller',
    data_preprocessor={{_base_.data_preprocessor}},  # CLIP mean/std for student and teacher (SPEC.md §9)
    backbone=dict(
        type='ResNetV1c', depth=101, num_stages=4, out_indices=(3, ), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch', contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')),  # ImageNet (MMSeg's usual)
    decode_head=dict(
        type='RectifiedDistillHead',
        class_names='voc20',
        in_channels=2048,
        channels=512,
        aspp=dict(dilations=(6, 12, 18, 24)),
        gumbel=dict(type='GumbelMask', scale=100.0, tau=1.0),
        # L = L_mask + 0.5 L_feat + 0.5 L_text (release weights); the release's last two act on a detached
        # tensor and do nothing there - here they train. Set a loss_weight to 0 to switch one off.
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, loss_name='loss_mask'),
        loss_feat=dict(type='FeatureDistillLoss', loss_weight=0.5, loss_name='loss_feat'),
        loss_text=dict(type='MaskedContrastiveLoss', logit_scale=100.0, loss_weight=0.5, loss_name='loss_text')),
    teacher=dict(config=None, checkpoint=None, cfg_options=dict()),  # cfg_options: overrides of the teacher config
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
