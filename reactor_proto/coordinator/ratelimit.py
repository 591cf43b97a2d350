"""Per-key token buckets, pure: every call takes ``now`` (monotonic seconds).

A bucket that has refilled completely carries no information, so it is forgotten; that
keeps the table bounded by the number of keys that were active in the last refill window.
``next_deadline`` is the moment the earliest bucket becomes full again (when it can be
dropped), which is what the machine's timer uses for housekeeping.
"""

from __future__ import annotations

import math

import attrs

from .config import RateLimit


@attrs.frozen(kw_only=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """Token-bucket rate limiter keyed by an opaque string (the API key id)."""

    def __init__(self, policy: RateLimit | None) -> None:
        self._policy = policy
        self._buckets: dict[str, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, key: str, now: float) -> float:
        assert self._policy is not None
        bucket = self._buckets.get(key)
        if bucket is None:
            return self._policy.burst
        elapsed = max(0.0, now - bucket.updated)
        return min(self._policy.burst, bucket.tokens + elapsed * self._policy.per_second)

    def acquire(self, key: str, now: float) -> int | None:
        """Take one token.  ``None`` when allowed, else the Retry-After delay (whole seconds,
        rounded up, at least 1)."""
        if self._policy is None:
            return None
        level = self._level(key, now)
        if level >= 1.0:
            self._buckets[key] = _Bucket(tokens=level - 1.0, updated=now)
            return None
        wait = (1.0 - level) / self._policy.per_second
        return max(1, math.ceil(wait))

    def next_deadline(self) -> float | None:
        """When the first bucket is full again (and may be forgotten)."""
        if self._policy is None or not self._buckets:
            return None
        rate = self._policy.per_second
        burst = self._policy.burst
        return min(b.updated + (burst - b.tokens) / rate for b in self._buckets.values())

    def expire(self, now: float) -> None:
        """Forget buckets that are full again."""
        if self._policy is None:
            return
        burst = self._policy.burst
        # The tolerance absorbs float rounding, so the deadline reported above always clears.
        for key in [k for k in self._buckets if self._level(k, now) >= burst - 1e-6]:
            del self._buckets[key]
