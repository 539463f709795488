"""A small least-recently-used cache for per-grid tensors (bias logits, positional maps, NACLIP's Gaussian)."""
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

V = TypeVar('V')


class GridCache:
    """Keeps the ``max_entries`` most recently used values. Inputs of many sizes (whole-image inference over a
    dataset of varied shapes) would otherwise add one entry per size without bound (~0.5 GB of bias logits at
    171 classes on ViT-B/16 over many sizes); slide inference and fixed test scales use one or two entries."""

    def __init__(self, max_entries: int = 8):
        if max_entries < 1:
            raise ValueError(f'GridCache needs max_entries >= 1, got {max_entries}')
        self.max_entries = max_entries
        self._data: 'OrderedDict[Hashable, V]' = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = self._data[key] = make()
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data
