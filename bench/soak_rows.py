"""The rows of the soak figure (:mod:`bench.soak`) from the driver's result: growth of the
raw RSS per hour of streaming and per 1,000 sessions, judged only on long runs, with the heap
readings (glibc's bytes in use and free, the RSS after a trim) as notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .common import Row
from .heap_probes import MMAP_THRESHOLD, slope

#: the frame rate the soak streams helios at (the delivered fps is judged against it)
FPS = 24
#: long enough for a verdict; shorter runs report the figures without judging them
JUDGED_MINUTES = 10.0
JUDGED_SESSIONS = 300


def retained_note(retained: dict[str, dict[str, float]], side: str) -> str:
    start, end = retained["start"][side], retained["end"][side]
    return f"after malloc_trim {start:.1f} -> {end:.1f} MB ({end - start:+.1f})"


def per_thousand(readings: Sequence[dict[str, Any]], side: str, key: str) -> float:
    """Least-squares growth of ``key`` per 1,000 sessions over the heap readings."""
    return slope([r["n"] for r in readings], [r[side][key] for r in readings]) * 1000


def raw_per_thousand(churn: dict[str, Any], side: str) -> float:
    """Least-squares growth of the raw RSS read after each session, per 1,000 sessions."""
    raw = churn["rows"]
    return slope([r["n"] for r in raw], [r[side] for r in raw]) * 1000


def kept_note(churn: dict[str, Any], side: str) -> str:
    retained = churn.get("retained")
    if not retained:
        return ""
    return f"after a trim at the end {retained[side]:.1f} MB; "


def session_rows(figure: str, side: str, churn: dict[str, Any], pinned: dict[str, Any] | None,
                 judged: bool) -> list[Row]:
    """One side's session figures: the raw RSS, as shipped and (when run) with the mmap
    threshold pinned; glibc's bytes in use; what a session left behind."""
    heap, raw = churn["heap"], churn["rows"]
    raw_growth = raw_per_thousand(churn, side)
    inuse = per_thousand(heap, side, "inuse")
    blocks = per_thousand(heap, side, "blocks") / 1000
    excess = churn["excess"][side]
    left = ", ".join(f"{k} +{v}" for k, v in excess.items() if v > 0) or "none"
    prefix = "" if judged else "too few sessions to judge; "
    first, last = heap[0][side], heap[-1][side]
    rows = [Row(
        figure=figure, metric=f"{side} RSS growth per 1,000 sessions", unit="MB",
        ours=raw_growth, goal="< 2" if judged else "",
        met=(raw_growth < 2) if judged else None,
        note=(prefix + f"raw RSS (no collection, no trim by the bench) after each session "
              f"{raw[0][side]:.1f} -> {raw[-1][side]:.1f} MB; {kept_note(churn, side)}"
              f"Python objects {blocks:+.1f} blocks per session; left behind after a "
              f"session: {left}; top growth: {'; '.join(churn[side + '_top'][:3])}"))]
    rows.append(Row(
        figure=figure, metric=f"{side} native heap in use per 1,000 sessions", unit="MB",
        ours=inuse, goal="< 2" if judged else "", met=(inuse < 2) if judged else None,
        note=(prefix + f"glibc mallinfo2 (arena chunks in use + mmapped) read as it is, "
              f"every tenth of the run: {first['inuse']:.2f} -> {last['inuse']:.2f} MB; "
              f"free in the heap {first['free']:.1f} -> {last['free']:.1f} MB")))
    if pinned is not None:
        growth = raw_per_thousand(pinned, side)
        p_raw = pinned["rows"]
        rows.append(Row(
            figure=figure, metric=f"{side} RSS growth per 1,000 sessions, mmap threshold "
            "pinned", unit="MB", ours=growth, baseline=raw_growth,
            baseline_name="glibc as shipped", goal="< 2" if judged else "",
            met=(growth < 2) if judged else None,
            note=(prefix + f"M_MMAP_THRESHOLD {MMAP_THRESHOLD // 1024} KiB in both "
                  f"processes (a new runtime process): raw RSS {p_raw[0][side]:.1f} -> "
                  f"{p_raw[-1][side]:.1f} MB; {kept_note(pinned, side)}")))
    rows.append(Row(
        figure=figure, metric=f"{side} threads/fds/tasks left per session", unit="count",
        ours=float(sum(excess.values())), goal="0", met=sum(excess.values()) == 0))
    return rows


def stream_heap_note(samples: Sequence[dict[str, Any]], hours: Sequence[float],
                     side: str) -> str:
    """The streaming growth of glibc's bytes in use (read as they are), per hour."""
    if not all("heap" in s for s in samples):
        return ""
    inuse = slope(hours, [s["heap"][side]["inuse"] for s in samples])
    first, last = samples[0]["heap"][side], samples[-1]["heap"][side]
    return (f"native heap in use {inuse:+.2f} MB/h ({first['inuse']:.1f} -> "
            f"{last['inuse']:.1f} MB), free in the heap {first['free']:.1f} -> "
            f"{last['free']:.1f} MB; ")


def rows_from(result: dict[str, Any], minutes: float, sessions: int) -> list[Row]:
    stream, churn = result["stream"], result["sessions"]
    samples = stream["samples"]
    hours = [s["t"] / 3600 for s in samples]
    judged_stream = minutes >= JUDGED_MINUTES
    judged_sessions = sessions >= JUDGED_SESSIONS
    fps = (samples[-1]["frames"] - samples[0]["frames"]) / max(samples[-1]["t"], 1e-9)
    figure = f"19 soak {round(minutes, 1):g} min, {sessions} sessions"
    rows = []
    for side in ("runtime", "client"):
        growth = slope(hours, [s[side] for s in samples])
        first, last = samples[0][side], samples[-1][side]
        rows.append(Row(
            figure=figure, metric=f"{side} RSS growth streaming", unit="MB/h", ours=growth,
            goal="< 2" if judged_stream else "", met=(growth < 2) if judged_stream else None,
            note=(("" if judged_stream else "too short to judge, a smoke run; ")
                  + f"{side} RSS {first:.1f} -> {last:.1f} MB over {samples[-1]['t'] / 60:.1f} "
                  f"min; {retained_note(stream['retained'], side)}; "
                  f"{stream_heap_note(samples, hours, side)}top growth: "
                  f"{'; '.join(stream[side + '_top'][:3])}")))
    pinned = result.get("sessions_pinned")
    for side in ("runtime", "client"):
        rows.extend(session_rows(figure, side, churn, pinned, judged_sessions))
    rows.append(Row(figure=figure, metric="delivered fps while streaming", unit="fps",
                    ours=fps, baseline=float(FPS), baseline_name="model frame rate"))
    return rows
