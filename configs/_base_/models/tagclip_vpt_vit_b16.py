# TagCLIP (docs/tagclip.md §2, §8): frozen OpenAI CLIP ViT-B/16 with deep VPT, text queries + trusty token through an
# ATM decoder. Offline smoke runs: clip model_name='reclip-tiny-deep', pretrained=None (12 blocks, untrained).
clip = dict(model_name='ViT-B-16', pretrained='openai', quick_gelu=True)
model_crop_size = (512, 512)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],  # ImageNet mean/std, RGB: the release's, not CLIP's own (docs/tagclip.md §2.1-10)
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=model_crop_size)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='VPTCLIPViT', clip=clip, num_tokens=10, deep_prompt_layers=11, prompt_dropout=0.1,
        prompt_init='uniform_vpt', prompt_proj=True, prompt_norm_eps=1e-6, pos_interp='bilinear',
        double_cls_embed=True, img_size=512),
    decode_head=dict(
        type='TagCLIPHead',
        class_names='voc20',
        unseen_idx=[],  # set by the dataset config
        text_encoder=dict(type='OpenCLIPTextEncoder', clip=clip, templates='zegclip_single', use_prompt_names=False),
        num_heads=8, ffn_ratio=4, dropout=0.1, layer_types=('self+cross', 'cross', 'cross'),
        use_trusty=True, seen_bias=0.1, trusty_eval='both', trusty_target='unseen_gt', self_training=False,
        loss_decode=dict(type='TagCLIPCriterion', mask_weight=20.0, dice_weight=1.0, trusty_weight=10.0,
                         focal_alpha=0.25, focal_gamma=2.0, dice_smooth=1.0, trusty_loss='focal')),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=model_crop_size, stride=(426, 426)))
