from setuptools import find_packages, setup

setup(
    name='reclip_mmseg',
    version='0.1.0',
    description='ReCLIP++ (rectifying CLIP bias for unsupervised semantic segmentation) as an MMSegmentation 1.x plugin',
    packages=find_packages(include=['reclip_mmseg', 'reclip_mmseg.*']),
    package_data={'reclip_mmseg': ['clip/*.txt', 'clip/model_configs/*.json']},
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.0', 'torchvision', 'mmengine>=0.10,<1.0', 'mmcv>=2.0,<2.2', 'mmsegmentation>=1.2,<1.3',
        'mmpretrain>=1.2', 'open_clip_torch>=2.20', 'ftfy', 'regex',
    ],
    extras_require={'tests': ['pytest', 'hypothesis', 'imgviz', 'scikit-image', 'tensorboard']},
)
