"""The embedded model's logprob arithmetic: a max-shifted log-softmax and its top k, against float64."""

from __future__ import annotations

import numpy as np
import pytest

from reasoners.llm.batching import log_softmax_top


@pytest.mark.parametrize("shape", ["spread", "peaked", "tiny"])
def test_log_softmax_top_matches_the_float64_reference(shape):
    rng = np.random.default_rng(0)
    row = (rng.normal(size=50_000) * 3).astype(np.float32)
    if shape == "peaked":  # one logit far above the rest: fewer than k within 30 nats of it
        row[123] = row.max() + 60.0
    if shape == "tiny":
        row = row[:3]
    ref = row.astype(np.float64) - np.logaddexp.reduce(row.astype(np.float64))
    norm, top = log_softmax_top(row, 5)
    assert float(row[1]) - norm == pytest.approx(ref[1], abs=1e-4)
    assert top == pytest.approx(sorted(ref, reverse=True)[:5], abs=1e-4)
    assert log_softmax_top(row, 0)[1] == []
