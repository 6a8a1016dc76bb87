"""A compact map from 64-bit content hashes to 64-bit values, for de-duplicating millions of records.

A Python ``dict``/``set`` of ints costs ~60-100 bytes per entry; two flat ``array('Q')`` tables with open
addressing cost ~16-32 bytes per record, which is what keeps validate/split/stats memory small on big files.
"""

from __future__ import annotations

from array import array

_EMPTY = 0


class HashIndex:
    """Open addressing with linear probing; the table doubles when half full. Key 0 is stored as 1."""

    def __init__(self, capacity: int = 1 << 12, with_values: bool = True) -> None:
        """``with_values=False`` makes a set: half the memory, and ``setdefault`` returns 0 for a key seen."""
        size = 1
        while size < capacity:
            size <<= 1
        self._with_values = with_values
        self._keys = array("Q", bytes(8 * size))
        self._values = array("Q", bytes(8 * size if with_values else 0))
        self._mask = size - 1
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def setdefault(self, key: int, value: int = 0) -> int | None:
        """The value stored for ``key``, or None after storing ``value`` for it."""
        key = key or 1
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                return self._values[slot] if self._with_values else 0
            if found == _EMPTY:
                break
            slot = (slot + 1) & mask
        keys[slot] = key
        if self._with_values:
            self._values[slot] = value
        self._size += 1
        if self._size * 2 > mask + 1:
            self._grow()
        return None

    def __contains__(self, key: int) -> bool:
        key = key or 1
        keys, mask = self._keys, self._mask
        slot = key & mask
        while keys[slot] != _EMPTY:
            if keys[slot] == key:
                return True
            slot = (slot + 1) & mask
        return False

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        size = (self._mask + 1) * 2
        self._keys = array("Q", bytes(8 * size))
        self._values = array("Q", bytes(8 * size if self._with_values else 0))
        self._mask = size - 1
        keys, values, mask = self._keys, self._values, self._mask
        for position, key in enumerate(old_keys):
            if key != _EMPTY:
                slot = key & mask
                while keys[slot] != _EMPTY:
                    slot = (slot + 1) & mask
                keys[slot] = key
                if self._with_values:
                    values[slot] = old_values[position]
