"""Recording adapters: the PyAV recorder of a runtime's output track (chunks on disk, clips
out) and the fragmented-MP4 helpers (concatenate, remux).  The policy is the core's
(:mod:`reactor_proto.recording`)."""

from reactor_anyio.recording.audio import AudioFeed
from reactor_anyio.recording.fmp4 import FragmentEncoder, concatenate, remux
from reactor_anyio.recording.recorder import Recorder

__all__ = ["AudioFeed", "FragmentEncoder", "Recorder", "concatenate", "remux"]
