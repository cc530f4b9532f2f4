"""The one digest of a set of sample fingerprints (a corpus's name in run trackers)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from eeg_io import fingerprints_digest, window_fingerprints

hex_digests = st.lists(st.text("0123456789abcdef", min_size=16, max_size=16), min_size=1, max_size=20)


@given(hex_digests, st.randoms())
def test_order_and_repeats_do_not_matter(digests, random):
    shuffled = digests + digests[:3]
    random.shuffle(shuffled)
    assert fingerprints_digest(shuffled) == fingerprints_digest(digests)
    assert len(fingerprints_digest(digests)) == 16


def test_the_same_samples_in_float64_match_and_one_changed_window_does_not():
    windows = np.random.default_rng(0).standard_normal((5, 64)).astype(np.float32)
    digest = fingerprints_digest(window_fingerprints(windows))
    assert fingerprints_digest(window_fingerprints(windows.astype(np.float64))) == digest
    changed = windows.copy()
    changed[3, 10] += 1.0
    assert fingerprints_digest(window_fingerprints(changed)) != digest
