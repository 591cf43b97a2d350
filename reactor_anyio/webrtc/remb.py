"""aiortc's receive-side bandwidth estimate, the same numbers for less CPU (figure 16).

A video receiver feeds every RTP packet with an absolute send time to aiortc's port of
libwebrtc's remote bitrate estimator (the REMB it sends back sets the sender's bitrate).
Each completed packet group updates a Kalman filter whose first step,
``OveruseEstimator.update_min_frame_period``, finds the smallest of the last 60 frame
periods with a Python loop of 60 ``min()`` calls: 2-3 % of our client's whole receive CPU
for a 640x360 stream (py-spy, steady state).  :class:`QuickOveruseEstimator` computes the
same value with one built-in ``min`` over the history, the rest of the filter untouched,
so every estimate, and every REMB the sender gets, is the one aiortc computes.

:func:`quick_remb` gives a receiver that has not received anything yet such an estimator
(aiortc has no setting for it: this reaches into its receiver, like :mod:`.jitter`, and
does nothing when the attributes are gone or the estimator has been used).
"""

from __future__ import annotations

from typing import Any

from aiortc.rate import MIN_FRAME_PERIOD_HISTORY_LENGTH, OveruseEstimator

#: aiortc's name for a receiver's estimator (a private attribute of RTCRtpReceiver)
_ESTIMATOR_ATTRIBUTE = "_RTCRtpReceiver__remote_bitrate_estimator"


class QuickOveruseEstimator(OveruseEstimator):
    """aiortc's overuse estimator with the smallest recent frame period found in C."""

    def update_min_frame_period(self, ts_delta: float) -> float:
        history = self.ts_delta_hist
        if len(history) >= MIN_FRAME_PERIOD_HISTORY_LENGTH:
            del history[0]
        smallest = ts_delta
        if history:
            # aiortc folds min(old, smallest) over the history, oldest first, so on a tie
            # the later entry wins: min() over the reversed history picks that one too
            recent_smallest = min(reversed(history))
            if recent_smallest <= ts_delta:
                smallest = recent_smallest
        history.append(ts_delta)
        return smallest


def quick_remb(receiver: Any) -> bool:
    """Give aiortc ``receiver``'s bitrate estimator a :class:`QuickOveruseEstimator`; True
    when swapped.  Only before its first packet: an estimator in use is left alone."""
    remote: Any = getattr(receiver, _ESTIMATOR_ATTRIBUTE, None)
    estimator = getattr(remote, "estimator", None)
    if type(estimator) is not OveruseEstimator or estimator.num_of_deltas():
        return isinstance(estimator, QuickOveruseEstimator)
    remote.estimator = QuickOveruseEstimator()
    return True
