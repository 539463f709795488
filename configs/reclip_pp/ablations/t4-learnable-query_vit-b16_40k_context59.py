# Table IV: learnable Query on context59; paper mIoU: 32.1.
#   python tools/train.py configs/reclip_pp/ablations/t4-learnable-query_vit-b16_40k_context59.py  (after tools/gen_hypotheses.py on it)
_base_ = ['../reclip-pp_vit-b16_40k_context59.py']
# The Query T_q is learned too: a CoOp context (16 tokens, N(0, 0.02^2), per-class normalised) on the class
# names replaces the fixed 85-template ensemble. The docs give no length or init for it; these are CoOp's.
model = dict(decode_head=dict(query_learner=dict(
    type='ReferencePromptLearner', num_context=16, context_init='random', normalize='per_class')))
