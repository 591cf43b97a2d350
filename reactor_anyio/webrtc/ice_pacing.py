"""No idle 20 ms at the end of aioice's connectivity checks (issue 20, the connect path).

aioice paces its checks like RFC 8445's Ta timer: ``Connection.connect`` starts one check,
sleeps 20 ms, starts the next, ... and only looks at the result after a sleep.  With one
candidate pair (loopback, a single host address) the check succeeds in well under a
millisecond and ``connect`` still sleeps the full 20 ms before it returns: every aiortc peer
pays 20 ms of nothing per connect, on both sides, before DTLS can start.

:func:`end_pacing_when_idle` wraps one connection's ``_check_periodic`` (the step the loop
calls before each sleep; private aioice 0.x, looked up per iteration, so an instance
attribute takes effect at the next step): when the step has just started a check and *no
other pair is left to start* (none waiting or frozen, no remote candidates still expected),
it tells the loop to stop pacing.  ``connect`` then goes straight to waiting for the check
list's result, exactly what it does after its last sleep; pairs that are still to be started
keep the 20 ms pacing.  A connection without that method (another aioice) is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_MARK = "__reactor_unpaced__"
_TO_START = ("WAITING", "FROZEN")


def end_pacing_when_idle(connection: Any) -> bool:
    """Wrap ``connection._check_periodic`` (idempotent); False when it cannot be wrapped."""
    original = getattr(connection, "_check_periodic", None)
    if original is None or not callable(original):
        return False
    if getattr(original, _MARK, False):
        return True

    def check_periodic() -> bool:
        if not original():
            return False
        # a check was just started (its task set; the task marks the pair in progress when it
        # runs): keep pacing only while another pair is still to be started
        for pair in getattr(connection, "_check_list", ()):
            state = getattr(getattr(pair, "state", None), "name", None)
            if state in _TO_START and getattr(pair, "task", None) is None:
                return True
        expected = getattr(connection, "_remote_candidates_expected", None)
        return bool(expected()) if callable(expected) else True

    setattr(check_periodic, _MARK, True)
    connection._check_periodic = check_periodic
    return True


def end_pacing_when_idle_all(connections: Iterable[Any]) -> int:
    """:func:`end_pacing_when_idle` on each; how many were wrapped."""
    return sum(end_pacing_when_idle(c) for c in connections)
