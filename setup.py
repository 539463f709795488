import os
import shutil

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithConfigs(build_py):
    """Ships ``configs/`` inside the package as ``reclip_mmseg/.mim/configs`` (OpenMMLab's layout), so that an
    installed package resolves ``configs/...`` paths (distillation teachers, tool arguments) without a checkout."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, 'reclip_mmseg', '.mim', 'configs')
        if os.path.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(os.path.join(HERE, 'configs'), target,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


def requirements(name):
    """The names of a requirements file, without the pins' exact-version operator (pip's `===`)."""
    with open(os.path.join(HERE, name)) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [line.replace('===', '==') for line in lines if line and not line.startswith('-')]


setup(
    name='reclip_mmseg',
    version='0.1.0',
    description='CLIP-based semantic segmentation without dense labels (ReCLIP++, ReCLIP, training-free dense CLIP, '
                'TagCLIP) as an MMSegmentation 1.x plugin',
    packages=find_packages(include=['reclip_mmseg', 'reclip_mmseg.*']),
    package_data={'reclip_mmseg': ['clip/model_configs/*.json', 'clip/name_files/*/*.txt']},
    cmdclass={'build_py': BuildWithConfigs},
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.0', 'torchvision', 'mmengine>=0.10,<1.0', 'mmcv>=2.0,<2.2', 'mmsegmentation>=1.2,<1.3',
        'mmpretrain>=1.2', 'open_clip_torch>=2.20', 'ftfy', 'regex', 'scikit-learn>=1.0',
    ],
    extras_require={'tests': requirements('requirements-test.txt')},
)
