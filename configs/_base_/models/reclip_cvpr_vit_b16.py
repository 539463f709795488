# ReCLIP (CVPR 2024) rectification stage (SPEC.md §12) on the frozen CLIP ViT-B/16: the conference version.
# Differences from ReCLIP++ (reclip_vit_b16.py): image-dependent class bias <F, R>, positional bias net on P,
# no decoder (Z = L_q - (L_cls + S)), Gumbel x1000, prompt denoising with softmax(100 Z), whole-image hypotheses.
_base_ = ['./clip_vit_b16.py']
model = dict(
    type='EncoderDecoder',
    data_preprocessor={{_base_.data_preprocessor}},
    backbone=dict(type='CLIPViT', clip={{_base_.clip}}, with_global=False),
    decode_head=dict(
        type='DependentBiasHead',
        class_names='voc20',
        text_encoder=dict(type='OpenCLIPTextEncoder', clip={{_base_.clip}}, templates='reclip85'),
        prompt_learner=dict(
            type='ReferencePromptLearner', num_context=73, context_init='token0', context_token_id=0,
            normalize='frobenius'),  # same Reference learner as ReCLIP++
        # Conv3x3(768->512)-BN-ReLU-Conv3x3(512->256)-BN-ReLU-Conv3x3(256->C)-BN-ReLU, kaiming fan_out
        bias_projector=dict(type='PositionalBiasNet', hidden_channels=(512, 256), norm_cfg=dict(type='BN'),
                            weight_init='kaiming_fan_out'),
        mask_decoder=None,  # no decoder in the conference version (Table III adds ReCLIP++'s)
        gumbel=dict(type='GumbelMask', scale=1000.0, tau=1.0, hard=True),
        bias_mode='subtract',  # Z = L_q - (L_cls + S)
        loss_decode=dict(type='MaskedContrastiveLoss', logit_scale=100.0, loss_weight=1.0),
        denoise_temperature=100.0,  # test-time prompt denoising with softmax(100 Z)
        denoise_threshold=0.0),  # per dataset in configs/reclip
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
