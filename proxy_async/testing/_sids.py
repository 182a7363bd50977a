"""Reversible, seed-keyed mapping between record indices and Twilio-style SIDs.

A SID is two letters plus 32 lowercase hex digits. Here the 128-bit number behind
the hex is an invertible scramble of ``(index, check)``, keyed per family (for
example "the interactions of session 3 of service 0"), so a SID can be generated
from an index and turned back into the index without storing any table: that is
what lets the fake serve a million-record session with flat memory.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

_BITS = 128
_MASK = (1 << _BITS) - 1
_LOW64 = (1 << 64) - 1
# Any odd multiplier is invertible modulo 2**128; these are just well-mixed odd constants.
_MUL1 = 0x9E3779B97F4A7C15F39CC0605CEDC835
_MUL2 = 0xC2B2AE3D27D4EB4F165667B19E3779F9
_INV1 = pow(_MUL1, -1, 1 << _BITS)
_INV2 = pow(_MUL2, -1, 1 << _BITS)
_HEX32 = re.compile(r"[0-9a-f]{32}")


class SidCodec:
    """Bijection between non-negative indices and the SIDs of one family."""

    __slots__ = ("_check", "_k1", "_k2", "prefix")

    def __init__(self, prefix: str, seed: int, scope: tuple[object, ...]) -> None:
        digest = hashlib.blake2b(
            repr((seed, prefix, scope)).encode(), digest_size=40, person=b"proxy-fake"
        ).digest()
        self.prefix = prefix
        self._k1 = int.from_bytes(digest[:16], "big")
        self._k2 = int.from_bytes(digest[16:32], "big")
        self._check = int.from_bytes(digest[32:40], "big")

    def number(self, index: int) -> int:
        """The scrambled 128-bit number of ``index`` (also a source of stable randomness)."""
        x = ((index << 64) | self._check) ^ self._k1
        x = (x * _MUL1) & _MASK
        x ^= x >> 64
        x = (x * _MUL2) & _MASK
        x ^= x >> 64
        return x ^ self._k2

    def encode(self, index: int) -> str:
        """The SID of ``index``."""
        return f"{self.prefix}{self.number(index):032x}"

    def decode(self, sid: str) -> int | None:
        """The index behind ``sid``, or None if ``sid`` is not of this family."""
        if len(sid) != 34 or not sid.startswith(self.prefix):
            return None
        digits = sid[2:]
        if _HEX32.fullmatch(digits) is None:
            return None
        x = int(digits, 16) ^ self._k2
        x ^= x >> 64
        x = (x * _INV2) & _MASK
        x ^= x >> 64
        x = ((x * _INV1) & _MASK) ^ self._k1
        if x & _LOW64 != self._check:
            return None
        return x >> 64


@lru_cache(maxsize=8192)
def codec(prefix: str, seed: int, *scope: object) -> SidCodec:
    """A cached :class:`SidCodec` for ``prefix`` within ``scope``."""
    return SidCodec(prefix, seed, scope)
