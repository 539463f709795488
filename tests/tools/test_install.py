"""`pip install .` outside the checkout: a non-editable install into a fresh virtual environment ships the configs
the code resolves (reclip_mmseg/.mim/configs, OpenMMLab's layout), runs tools/test.py on a shipped config from a
directory that has no checkout, and builds a distillation teacher from the shipped relative config path."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig

import torch

from mmengine.config import Config
from mmseg.registry import MODELS

from conftest import ROOT, TINY_CLIP

TEACHER = 'configs/reclip_pp/reclip-pp_vit-b16_20k_voc20.py'
TRAINING_FREE = 'configs/training_free/maskclip_vit-b16_voc20.py'


def _installed_venv(tmp_path):
    """A venv without the checkout: the package from a wheel built out of the checkout; its dependencies from this
    interpreter's site-packages by a path entry (no editable finder, no source tree on sys.path)."""
    wheels, venv, source = tmp_path / 'wheels', tmp_path / 'venv', tmp_path / 'source'
    # the wheel is built from a copy of what `pip install .` reads, so the build leaves nothing in the checkout
    for name in ('setup.py', 'requirements.txt', 'requirements-test.txt'):
        os.makedirs(source, exist_ok=True)
        shutil.copy(os.path.join(ROOT, name), source / name)
    for name in ('reclip_mmseg', 'configs'):
        shutil.copytree(os.path.join(ROOT, name), source / name,
                        ignore=shutil.ignore_patterns('__pycache__', '*.egg-info'))
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(wheels),
                    str(source)], check=True, capture_output=True, text=True, timeout=600)
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True, timeout=120)
    site = subprocess.check_output([str(venv / 'bin' / 'python'), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                                   text=True).strip()
    with open(os.path.join(site, 'deps.pth'), 'w') as f:  # a path line only: the editable install's .pth is not run
        f.write(sysconfig.get_paths()['purelib'] + '\n')
    wheel = next(wheels.glob('reclip_mmseg-*.whl'))
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', '--target', site,
                    str(wheel)], check=True, capture_output=True, text=True, timeout=600)
    return venv / 'bin' / 'python', site


def test_pip_install_ships_the_configs_and_runs_outside_the_checkout(tmp_path, voc_root):
    python, site = _installed_venv(tmp_path)
    outside = tmp_path / 'elsewhere'
    outside.mkdir()
    where = subprocess.check_output([str(python), '-c', 'import reclip_mmseg; print(reclip_mmseg.__file__)'],
                                    cwd=outside, text=True).strip()
    assert where.startswith(site) and not where.startswith(ROOT), where  # the installed copy, not the checkout
    for config in (TEACHER, TRAINING_FREE, 'configs/_base_/default_runtime.py'):
        assert os.path.isfile(os.path.join(site, 'reclip_mmseg', '.mim', config)), config

    # tools/test.py, copied out of the checkout (its sys.path entry is then its own folder), on a shipped config
    (outside / 'tools').mkdir()
    shutil.copy(os.path.join(ROOT, 'tools', 'test.py'), outside / 'tools' / 'test.py')
    opts = [f'model.backbone.clip.{k}={v}' for k, v in TINY_CLIP.items()]
    opts += [f'model.decode_head.text_encoder.clip.{k}={v}' for k, v in TINY_CLIP.items()]
    opts += [f'test_dataloader.dataset.data_root={voc_root}', 'test_dataloader.num_workers=0',
             'test_dataloader.persistent_workers=False']
    env = dict(os.environ, RECLIP_CACHE_DIR=str(tmp_path / 'cache'))
    proc = subprocess.run([str(python), 'tools/test.py', TRAINING_FREE, '--work-dir', str(tmp_path / 'wd'),
                           '--cfg-options', *opts], cwd=outside, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = sorted((tmp_path / 'wd').glob('*/*.json'))
    assert results, 'tools/test.py wrote no metrics file'
    with open(results[-1]) as f:
        metrics = json.load(f)
    assert 0.0 <= metrics['mIoU'] <= 100.0 and 'aAcc' in metrics

    # a distillation teacher from the shipped relative config path, with a checkpoint trained here
    ckpt = str(tmp_path / 'rect.pth')
    cfg = Config.fromfile(os.path.join(ROOT, TEACHER))
    for where in ('backbone', 'decode_head.text_encoder'):
        cfg.merge_from_dict({f'model.{where}.clip': dict(TINY_CLIP)})
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(), meta=dict()), ckpt)
    code = ('from mmengine.registry import init_default_scope; init_default_scope("mmseg"); '
            'from reclip_mmseg.models.reclip_pp.distill import build_teacher; '
            f'm = build_teacher({TEACHER!r}, {ckpt!r}, clip={TINY_CLIP!r}); '
            'print(type(m).__name__, type(m.decode_head).__name__)')
    proc = subprocess.run([str(python), '-c', code], cwd=outside, capture_output=True, text=True, timeout=600,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.splitlines()[-1].split() == ['CLIPSegmentor', 'BiasRectifiedHead'], proc.stdout[-2000:]
