"""Video codec preferences for the offerer's transceivers.

The official client orders every H.264 variant first, then VP8, then the rest (rtx, ...)
(docs/protocol §5.6).  The order only expresses a preference: the answerer may pick by its own
list (F28).  It is configurable so a caller can, for instance, prefer VP8 (cheaper to encode in
aiortc) or offer a single codec.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from reactor_proto.errors import LocalProtocolError

DEFAULT_VIDEO_CODEC_ORDER: tuple[str, ...] = ("video/H264", "video/VP8")
_RTX = "video/rtx"


def order_codecs(
    codecs: Sequence[RTCRtpCodecCapability], preferred: Sequence[str]
) -> list[RTCRtpCodecCapability]:
    """``codecs`` reordered so the MIME types in ``preferred`` come first, in that order.

    Codecs not named keep their relative order after the preferred ones, except that when
    ``preferred`` is given and does not name a codec, that codec is still kept: rtx must follow
    for retransmissions to work and unlisted codecs are harmless fallbacks.
    """
    rank = {mime.lower(): index for index, mime in enumerate(preferred)}
    first = sorted(
        (c for c in codecs if c.mimeType.lower() in rank),
        key=lambda c: rank[c.mimeType.lower()],
    )
    rest = [c for c in codecs if c.mimeType.lower() not in rank]
    return first + rest


def only_codecs(
    codecs: Sequence[RTCRtpCodecCapability], allowed: Sequence[str]
) -> list[RTCRtpCodecCapability]:
    """Keep only ``allowed`` MIME types (plus rtx), ordered as ``allowed`` lists them."""
    wanted = {m.lower() for m in allowed}
    kept = [c for c in codecs if c.mimeType.lower() in wanted or c.mimeType.lower() == _RTX]
    return order_codecs(kept, allowed)


def apply_video_codec_preferences(
    transceiver: RTCRtpTransceiver, preferred: Sequence[str], *, exclusive: bool = False
) -> None:
    """Set the codec preferences of a video transceiver.

    ``exclusive`` offers only the listed codecs (plus rtx) instead of listing them first.
    """
    capabilities = RTCRtpSender.getCapabilities("video")
    available = list(capabilities.codecs)
    chosen = only_codecs(available, preferred) if exclusive else order_codecs(available, preferred)
    if not any(c.mimeType.lower() != _RTX for c in chosen):
        raise LocalProtocolError(f"video codec preference matches no codec aiortc has: "
                                 f"{tuple(preferred)!r}")
    transceiver.setCodecPreferences(chosen)
