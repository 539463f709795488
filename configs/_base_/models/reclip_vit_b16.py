# ReCLIP (CVPR 2024) rectification stage (docs/reclip_pp.md §12) on the frozen CLIP ViT-B/16: the conference version.
# Same CLIP, Query templates, Reference prompt learner and loss as ReCLIP++ (reclip_pp_vit_b16.py); what differs:
# image-dependent class bias <F, R>, positional bias net on P, no decoder (Z = L_q - (L_cls + S)), Gumbel x1000,
# prompt denoising with softmax(100 Z); whole-image hypotheses (set per dataset in configs/reclip).
_base_ = ['./reclip_pp_vit_b16.py']
model = dict(
    decode_head=dict(
        type='DependentBiasHead',
        # Conv3x3(768->512)-BN-ReLU-Conv3x3(512->256)-BN-ReLU-Conv3x3(256->C)-BN-ReLU, kaiming fan_out
        bias_projector=dict(_delete_=True, type='PositionalBiasNet', hidden_channels=(512, 256),
                            norm_cfg=dict(type='BN'), weight_init='kaiming_fan_out'),
        mask_decoder=None,  # no decoder in the conference version (Table III adds ReCLIP++'s)
        gumbel=dict(scale=1000.0),
        denoise_temperature=100.0,  # test-time prompt denoising with softmax(100 Z) ...
        denoise_fill=-100.0))  # ... whose suppressed logits are set to -100: all suppressed -> class 0 (release)
