"""Memory and resource readings for the soak figure (:mod:`bench.soak`) and the memory
guard (``tests/memory``): RSS and counts from ``/proc``, glibc's heap (``mallinfo2``, trim,
mmap threshold), live-object census, ``tracemalloc`` growth sites, a least-squares slope.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import tracemalloc
from collections.abc import Sequence

from .common import REPO

#: glibc's mmap threshold for the "fixed threshold" variant: its own starting value, kept
#: (glibc otherwise raises it to the largest block freed, up to 32 MiB, and per-frame buffers
#: of hundreds of KiB then land in the heap, between small long-lived objects)
MMAP_THRESHOLD = 128 * 1024
_M_MMAP_THRESHOLD = -3

# ---- resource readings (any process, from /proc) ----------------------------------------------


def rss_mb(pid: int | str = "self", field: str = "VmRSS:") -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def counts(pid: int | str = "self") -> dict[str, int]:
    return {"threads": len(os.listdir(f"/proc/{pid}/task")),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def top_growth(before: tracemalloc.Snapshot, limit: int = 5) -> list[str]:
    """The source lines whose live allocations grew most since ``before`` (after a full
    collection: garbage waiting for the cycle collector is not growth)."""
    gc.collect()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__),
              tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
              tracemalloc.Filter(False, "<unknown>")]
    after = tracemalloc.take_snapshot().filter_traces(ignore)
    stats = after.compare_to(before.filter_traces(ignore), "lineno")
    sites = []
    for stat in stats[:limit]:
        frame = stat.traceback[0]
        where = os.path.relpath(frame.filename, REPO) if frame.filename.startswith(str(REPO)) \
            else "/".join(frame.filename.split("/")[-2:])
        sites.append(f"{where}:{frame.lineno} {stat.size_diff / 1024:+.0f} KiB "
                     f"({stat.count_diff:+d} blocks)")
    return sites


#: aiortc objects one session creates; none may outlive it
TRACKED = ("RTCPeerConnection", "RTCRtpSender", "RTCRtpReceiver", "RTCDtlsTransport",
           "RTCSctpTransport", "RTCDataChannel", "Connection", "ServerPeer", "ClientPeer",
           "FanoutTrack", "PausableTrack")


def census(names: Sequence[str] = TRACKED) -> dict[str, int]:
    """Live instances of each class named in ``names`` after a full collection."""
    gc.collect()
    found = dict.fromkeys(names, 0)
    for obj in gc.get_objects():
        name = type(obj).__name__
        if name in found:
            found[name] += 1
    return found


_LIBC: list[ctypes.CDLL | None] = []


def _libc() -> ctypes.CDLL | None:
    """glibc, loaded once (a ``CDLL`` per reading was itself cyclic garbage in the process
    being measured)."""
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL("libc.so.6"))
        except OSError:
            _LIBC.append(None)
    return _LIBC[0]


def malloc_trim() -> bool:
    """Return free heap memory to the OS (glibc); how much RSS was only fragmentation."""
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                 "uordblks", "fordblks", "keepcost")]


def mallinfo() -> _MallInfo2 | None:
    """glibc's ``mallinfo2()`` (None where there is no glibc)."""
    mallinfo2 = getattr(_libc(), "mallinfo2", None)
    if mallinfo2 is None:
        return None
    mallinfo2.restype = _MallInfo2
    info: _MallInfo2 = mallinfo2()
    return info


def bytes_in_use(info: _MallInfo2) -> int:
    """glibc's bytes in use: arena chunks in use plus mmapped chunks."""
    return int(info.uordblks + info.hblkhd)


def heap_reading() -> dict[str, float]:
    """:func:`heap_peek` after a full collection and a trim: the memory really kept."""
    gc.collect()
    malloc_trim()
    return heap_peek()


def heap_peek() -> dict[str, float]:
    """RSS, glibc's bytes in use (``mallinfo2``: arena chunks in use plus mmapped chunks),
    its free bytes, and the Python object allocator's live blocks, as they are: no
    collection, no trim (the process is measured, not helped).  RSS growing while
    ``inuse`` and ``blocks`` stay flat is fragmentation, not a leak."""
    reading = {"rss": rss_mb(), "anon": rss_mb(field="RssAnon:"),
               "blocks": float(sys.getallocatedblocks()),
               "inuse": float("nan"), "free": float("nan")}
    info = mallinfo()
    if info is None:
        return reading
    reading["inuse"] = bytes_in_use(info) / 2**20
    reading["free"] = info.fordblks / 2**20
    return reading


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Pin glibc's mmap threshold (which also turns off its dynamic raise): blocks of
    ``size`` bytes or more are mapped on their own and returned to the OS when freed."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, size))


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs`` (NaN for fewer than two points)."""
    if len(xs) < 2:
        return float("nan")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
