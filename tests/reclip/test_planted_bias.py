"""The planted-bias experiment (issue 4): rectification must lift mIoU well above the Query-only baseline.

Features with a planted class preference and border (space) preference, CLIP-like geometry; the real
BiasRectifiedHead trains on image-level labels only. With the release's decoder init (kaiming fan_out, docs/reclip_pp.md §4)
400 iterations stay below Query-only; 2,000 reach the gain: seed 0, Query-only 53.9, rectified 63.4, oracle
(exact bias removed) 78.5 mIoU (`python tools/planted_bias.py`; seeds 1, 2 give +9.0 and +9.9).
"""
import math
import os
import sys

import pytest

from conftest import ROOT  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, 'tools'))

import planted_bias  # noqa: E402


def test_rectification_lifts_miou_above_the_query_only_baseline():
    r = planted_bias.run(iters=2000, seed=0)
    assert r['oracle_rectified_miou'] > r['query_only_miou'] + 15  # the planted bias is what limits the baseline
    assert r['rectified_miou'] > r['query_only_miou'] + 4  # loose bound (measured: +8.5)
    assert math.isfinite(r['bias_correlation']) and math.isfinite(r['query_minus_learned_bias_miou'])


@pytest.mark.slow
def test_query_only_reclip_and_reclip_pp_on_three_seeds():
    """The README table (issue 14, item 4): ReCLIP++ beats Query-only and ReCLIP on each seed; the same data for all."""
    for row in planted_bias.compare([0, 1, 2]):
        assert row['reclip_pp'] > row['query_only'] + 4 and row['reclip_pp'] > row['reclip'], row
        assert row['oracle'] > row['reclip_pp']
