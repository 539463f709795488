"""The Query-embedding disk cache: keyed by weights, templates and words; checked on read and rebuilt when damaged;
an unwritable folder costs only the cache; files follow the umask."""
import os

import pytest
import torch

from conftest import TINY_CLIP
from reclip_mmseg.clip import OpenCLIPTextEncoder


def test_query_embeddings_are_cached_on_disk(tmp_path, monkeypatch):
    first = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path))
    emb = first.class_embeddings(['cat', 'dog'], progress=False)
    files = list((tmp_path / 'text_embeds').glob('*.pth'))
    assert len(files) == 1
    second = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path))
    monkeypatch.setattr(second, '_build_class_embeddings', lambda *a, **k: pytest.fail('rebuilt despite cache'))
    torch.testing.assert_close(second.class_embeddings(['cat', 'dog']), emb)
    # other names or templates: another key
    third = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path), templates='single')
    assert not torch.equal(third.class_embeddings(['cat', 'dog'], progress=False), emb)
    assert len(list((tmp_path / 'text_embeds').glob('*.pth'))) == 2


def test_corrupt_query_cache_is_detected_and_rebuilt(tmp_path):
    enc = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path))
    emb = enc.class_embeddings(['cat'], progress=False)
    path = next((tmp_path / 'text_embeds').glob('*.pth'))
    path.write_bytes(b'not a torch file')
    fresh = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path))
    with pytest.warns(UserWarning, match='unreadable'):
        again = fresh.class_embeddings(['cat'], progress=False)
    torch.testing.assert_close(again, emb)
    assert torch.load(path, weights_only=True)['names'] == ['cat']


def test_damaged_but_loadable_query_cache_is_detected_and_rebuilt(tmp_path):
    from reclip_mmseg.clip import OpenCLIPTextEncoder
    enc = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path))
    good = enc.class_embeddings(['cat', 'dog'], progress=False)
    path = next((tmp_path / 'text_embeds').glob('*.pth'))
    for damage in (lambda e: e.fill_(float('nan')), lambda e: e.mul_(1.01), lambda e: e[:, :3].zero_()):
        data = torch.load(path, weights_only=True)
        damage(data['embeds'])
        torch.save(data, path)  # overwritten data, still a loadable file
        fresh = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(tmp_path))
        with pytest.warns(UserWarning, match='damaged'):
            again = fresh.class_embeddings(['cat', 'dog'], progress=False)
        torch.testing.assert_close(again, good)
        assert torch.equal(torch.load(path, weights_only=True)['embeds'], good)  # the rebuilt copy replaced it


def test_read_only_cache_directory_warns_and_goes_on(tmp_path):
    from reclip_mmseg.clip import OpenCLIPTextEncoder
    if os.geteuid() == 0:  # root ignores permission bits: make the cache folder a file instead
        blocked = tmp_path / 'blocked'
        blocked.write_text('a file where the cache folder should be')
        cache = blocked
    else:
        cache = tmp_path / 'ro'
        cache.mkdir(mode=0o500)
    enc = OpenCLIPTextEncoder(clip=TINY_CLIP, cache_dir=str(cache))
    with pytest.warns(UserWarning, match='could not be written'):
        emb = enc.class_embeddings(['cat', 'dog'], progress=False)
    assert emb.shape[0] == 2 and torch.isfinite(emb).all()


def test_cache_files_follow_the_umask_not_0600(tmp_path):
    from reclip_mmseg.utils import atomic_save
    old = os.umask(0o022)
    try:
        atomic_save({'a': 1}, str(tmp_path / 'x.pth'))
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / 'x.pth').st_mode & 0o777) == 0o644
