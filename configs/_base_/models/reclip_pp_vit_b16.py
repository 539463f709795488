# ReCLIP++ rectification stage (docs/reclip_pp.md §1-7) on the frozen CLIP ViT-B/16.
_base_ = ['./clip_vit_b16.py']
model = dict(
    type='CLIPSegmentor',  # EncoderDecoder + class-chunked label maps (docs/speed.md)
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='CLIPViT', clip={{_base_.clip}}, with_global=False),
    decode_head=dict(
        type='BiasRectifiedHead',
        class_names='voc20',
        # words='release': the words the ReCLIP releases feed CLIP per dataset ('airplane', 'tv monitor',
        # 'food things', ...; docs/reclip_pp.md §14), for the Query and the Reference prompts; 'readable' is the switch
        text_encoder=dict(type='OpenCLIPTextEncoder', clip={{_base_.clip}}, templates='reclip85', words='release'),
        prompt_learner=dict(
            type='ReferencePromptLearner',
            num_context=73,  # release: 73 context tokens, 3 positions left for the name
            context_init='token0',  # copies of the embedding of token id 0
            context_token_id=0,
            normalize='frobenius'),  # release: R / ||R||_F over the whole C x D matrix; 'per_class' = paper-style
        bias_projector=dict(type='PositionalBiasProjector'),  # 1x1 conv 768 -> 512 on P
        mask_decoder=dict(type='RectifiedMaskDecoder', kernel_size=5, norm_cfg=dict(type='BN'),
                          weight_init='kaiming_fan_out'),  # release init (docs/reclip_pp.md §4); 'pytorch' = PyTorch's default
        gumbel=dict(type='GumbelMask', scale=100.0, tau=1.0, hard=True),
        bias_mode='subtract',  # L_r = L_q - L_b
        loss_decode=dict(type='MaskedContrastiveLoss', logit_scale=100.0, loss_weight=1.0),
        denoise_threshold=0.0),  # per-dataset thresholds are set in configs/reclip_pp (docs/reclip_pp.md §7)
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
