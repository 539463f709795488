# Runtime shared by every reclip_mmseg config (MMSeg scope; the plugin registers into it).
default_scope = 'mmseg'
custom_imports = dict(imports=['reclip_mmseg'], allow_failed_imports=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
# TensorBoard: add dict(type='TensorboardVisBackend') here, or --cfg-options visualizer.vis_backends.0.type=TensorboardVisBackend
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# Fail before any loop when the head's class names are not the dataset's, or when image / label files are
# empty, unreadable or degenerate (named); warn on label values outside the classes; stop at a non-finite or
# diverging loss before anything from that iteration is saved; reseed torch each iteration from (seed, iteration)
# so that dropout after --resume is what it would have been without the interruption.
custom_hooks = [dict(type='CheckClassNamesHook'), dict(type='CheckImageFilesHook'), dict(type='CheckLabelValuesHook'),
                dict(type='CheckFiniteLossHook'), dict(type='IterationSeedHook')]
