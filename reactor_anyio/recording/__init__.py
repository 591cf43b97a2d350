"""Recording adapters: the PyAV recorder of a runtime's output track (chunks on disk, clips
out) and the fragmented-MP4 helpers (concatenate, remux).  The policy is the core's
(:mod:`reactor_proto.recording`)."""

from typing import TYPE_CHECKING

from reactor_proto.lazy import lazy_attributes

if TYPE_CHECKING:
    from reactor_anyio.recording.audio import AudioFeed
    from reactor_anyio.recording.fmp4 import FragmentEncoder, concatenate, remux
    from reactor_anyio.recording.recorder import Recorder
else:  # imported on first use (PEP 562): see reactor_proto.lazy
    __getattr__, __dir__ = lazy_attributes(__name__, {
        "AudioFeed": ".audio",
        "FragmentEncoder": ".fmp4",
        "concatenate": ".fmp4",
        "remux": ".fmp4",
        "Recorder": ".recorder",
    })

__all__ = ["AudioFeed", "FragmentEncoder", "Recorder", "concatenate", "remux"]
