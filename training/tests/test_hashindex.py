"""HashIndex: the compact de-duplication map behaves like a dict across growth."""

from __future__ import annotations

import random

from training.data.hashindex import HashIndex


def test_matches_a_dict_through_many_resizes() -> None:
    index, reference = HashIndex(capacity=4), {}
    rng = random.Random(1)
    keys = [rng.getrandbits(64) for _ in range(5000)]
    keys += keys[:500]  # repeats must find the first value
    for position, key in enumerate(keys):
        assert index.setdefault(key, position) == reference.get(key)
        reference.setdefault(key, position)
    assert len(index) == len(reference) == 5000
    assert all(k in index for k in keys[:100]) and rng.getrandbits(64) not in index


def test_zero_key_and_colliding_slots() -> None:
    index = HashIndex(capacity=8)
    assert index.setdefault(0, 5) is None and index.setdefault(0, 6) == 5
    assert index.setdefault(8, 1) is None and index.setdefault(16, 2) is None  # same slot modulo 8
    assert index.setdefault(16, 9) == 2 and 24 not in index


def test_keys_only_index_is_a_set() -> None:
    seen = HashIndex(capacity=2, with_values=False)
    assert [seen.setdefault(k) for k in (5, 7, 5, 9, 7)] == [None, None, 0, None, 0]
    assert len(seen) == 3 and 9 in seen and 6 not in seen
