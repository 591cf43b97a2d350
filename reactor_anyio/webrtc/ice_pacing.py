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
list's result, exactly what it does after its last sleep.  A connection without that method
(another aioice) is left alone.

A few pairs left (at most :data:`BURST`, e.g. the official runtime's answer carries a
candidate per interface, so two or three pairs) are started at once instead of 20 ms apart:
the first, highest-priority check usually succeeds within a millisecond and aioice then drops
the pairs not yet checked, but ``connect`` would still sleep 20 ms before it looks (measured
against the official runtime: 21 ms of a 120 ms connect).  A handful of STUN requests at once
is nothing for any network; longer check lists keep the 20 ms pacing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

_MARK = "__reactor_unpaced__"
_TO_START = ("WAITING", "FROZEN")
#: at most this many pairs left to start are started together instead of paced
BURST = 4


def _left_to_start(connection: Any) -> list[Any]:
    """Pairs waiting or frozen whose check was not started yet."""
    left = []
    for pair in getattr(connection, "_check_list", ()):
        state = getattr(getattr(pair, "state", None), "name", None)
        if state in _TO_START and getattr(pair, "task", None) is None:
            left.append(pair)
    return left


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
        # runs): start the few others now, keep pacing only while more than that are left
        left = _left_to_start(connection)
        start = getattr(connection, "check_start_task", None)
        if 0 < len(left) <= BURST and callable(start):
            for pair in left:
                start(pair)  # aioice's own "start a check in a task, unless started"
            left = _left_to_start(connection)
        if left:
            return True
        expected = getattr(connection, "_remote_candidates_expected", None)
        return bool(expected()) if callable(expected) else True

    setattr(check_periodic, _MARK, True)
    connection._check_periodic = check_periodic
    return True


def end_pacing_when_idle_all(connections: Iterable[Any]) -> int:
    """:func:`end_pacing_when_idle` on each; how many were wrapped."""
    return sum(end_pacing_when_idle(c) for c in connections)


# ---- returning as soon as the check list completes ------------------------------------------
#
# The pacing loop above also delays *noticing* success: ``connect`` looks at the check list
# only after each 20 ms sleep.  Against a client that trickles its candidates (reactor-sdk
# 1.13.0, figure 9) the runtime's check list is still empty at the first step, so ``connect``
# sleeps; the client's candidates and its check arrive meanwhile, the triggered check
# completes the list a few ms later, and ``connect`` returns at the end of that sleep:
# 14-20 ms after "ICE completed" in every trace (DTLS waits for it).  :func:`return_on_completion`
# makes ``connect`` return when the list completes: aioice's own ``connect`` runs as before,
# and when completion comes first it is stopped in its sleep and its last steps are done
# here (cancel the checks still running, start the consent-freshness task), as it would do
# them after the sleep.  Failure and cancellation are aioice's, unchanged.

_COMPLETION_MARK = "__reactor_returns_on_completion__"
_PARTS = ("connect", "_check_list_maybe_complete", "_check_list_state", "_check_list",
          "query_consent")


def _finish_completed(connection: Any) -> None:
    """What aioice's ``connect`` does once the check list has completed."""
    state = connection._check_list_state
    if not state.empty():
        state.get_nowait()  # the ICE_COMPLETED its loop would have read
    for check in connection._check_list:
        if check.task:
            check.task.cancel()
    connection._query_consent_task = asyncio.create_task(connection.query_consent())


def return_on_completion(connection: Any) -> bool:
    """Wrap ``connection.connect`` (idempotent, before it is called); False when the aioice
    parts it relies on are missing (another aioice): it is then left alone."""
    if any(not hasattr(connection, part) for part in _PARTS):
        return False
    if getattr(connection.connect, _COMPLETION_MARK, False):
        return True
    original_connect = connection.connect
    maybe_complete = connection._check_list_maybe_complete
    completed = asyncio.Event()

    def check_list_maybe_complete() -> bool:
        done = bool(maybe_complete())
        if done:
            completed.set()
        return done

    async def connect() -> None:
        paced = asyncio.ensure_future(original_connect())
        noticed = asyncio.ensure_future(completed.wait())
        try:
            await asyncio.wait({paced, noticed}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            paced.cancel()  # we were cancelled: so is aioice's connect
            raise
        finally:
            noticed.cancel()
        if paced.done():
            paced.result()  # aioice's own outcome, its exception included
            return
        paced.cancel()  # completed while it sleeps between two steps
        # wait() neither raises the child's CancelledError nor hides ours: a cancel of this
        # task arriving now still cancels it
        await asyncio.wait({paced})
        if paced.cancelled():
            _finish_completed(connection)
        else:
            paced.result()  # it finished on its own meanwhile

    setattr(connect, _COMPLETION_MARK, True)
    connection._check_list_maybe_complete = check_list_maybe_complete
    connection.connect = connect
    return True


def return_on_completion_all(connections: Iterable[Any]) -> int:
    """:func:`return_on_completion` on each; how many were wrapped."""
    return sum(return_on_completion(c) for c in connections)
