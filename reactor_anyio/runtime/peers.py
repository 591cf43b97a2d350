"""The aiortc peers of :class:`~reactor_anyio.runtime.LocalRuntime`, one :class:`Link` per
connection id.

This module only performs the machine's peer actions (``CreateAnswer``, ``SwapPeer``,
``ClosePeer``, ``CloseTransport``, the flows and the sends) and reports what each peer does
(its state, its channels, its messages) with the negotiation id it was built for.  When a
connection counts as connected or lost, which peer carries its traffic and which media
reaches the model are the machine's decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from reactor_anyio.webrtc import IceConfig, ServerPeer
from reactor_anyio.webrtc.audio_source import Pcm
from reactor_proto.errors import InvalidStateError, LocalProtocolError, ReactorError
from reactor_proto.runtime import CreateAnswer, RuntimeMachine

from .links import Link, add_candidates
from .media import MediaHub, OutputTrack
from .model_host import RuntimeModelContext

logger = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


class PeerSet:
    """Every peer of the runtime; ``pump`` performs what a machine call queued."""

    def __init__(self, machine: RuntimeMachine, *, ice: IceConfig, media: MediaHub,
                 context: RuntimeModelContext, spawn: Spawn,
                 pump: Callable[[], object]) -> None:
        self._machine = machine
        self._ice = ice
        self._media = media
        self._context = context
        self._spawn = spawn
        self._pump = pump
        self.links: dict[int, Link] = {}

    def open_count(self) -> int:
        """Peers not yet closed (pending re-offers included)."""
        return sum(1 for link in self.links.values() for p in link.peers.values()
                   if not p.closed)

    # ---- building a peer ------------------------------------------------------------------

    async def create_answer(self, action: CreateAnswer) -> None:
        cid, nid = action.connection_id, action.negotiation_id
        link = self.links.setdefault(cid, Link())
        try:
            peer = ServerPeer(action.track_mapping, ice=self._ice,
                              outputs=self._subscribe_outputs(cid, nid, action),
                              audio_inputs=self._context.audio_formats)
        except ReactorError as exc:
            self._release_outputs(cid, nid)
            self._machine.answer_failed(cid, exc.message, time.monotonic(), negotiation_id=nid)
            self._pump()
            return
        link.peers[nid] = peer
        if action.active:
            link.active = nid
        self._watch(peer, cid, nid)
        for name in action.ignored_inputs:
            # LocalProtocolError: not a video input, so no frames to hold back
            with contextlib.suppress(LocalProtocolError):
                peer.set_input_enabled(name, False)
                if name in self._context.audio_formats:
                    peer.set_audio_callback(name, self._audio_sink(name, cid))
                else:
                    peer.set_frame_callback(name, self._input_sink(name, cid))
        try:
            sdp = await peer.accept(action.offer_sdp)
            if action.remote_candidates:
                await add_candidates(peer, action.remote_candidates)
            self._machine.answer_created(cid, sdp, time.monotonic(), negotiation_id=nid)
        except Exception as exc:  # aiortc refusals arrive as many types: all are a failure
            reason = exc.message if isinstance(exc, ReactorError) else repr(exc)
            logger.info("connection %d: answer failed: %s", cid, reason)
            self.drop_peer(cid, nid)
            with contextlib.suppress(InvalidStateError):  # the machine moved on meanwhile
                self._machine.answer_failed(cid, reason, time.monotonic(), negotiation_id=nid)
        if self.links.get(cid) is not link or nid not in link.peers:
            self.drop_peer(cid, nid)  # the connection went away while we negotiated
        self._pump()

    def _subscribe_outputs(self, cid: int, nid: int,
                           action: CreateAnswer) -> dict[str, OutputTrack]:
        outputs: dict[str, OutputTrack] = {}
        for entry in action.track_mapping:
            fanout = self._media.fanout(entry.name)
            if entry.direction == "recvonly" and fanout is not None:
                outputs[entry.name] = fanout.subscribe()
        self.links.setdefault(cid, Link()).outputs[nid] = outputs
        return outputs

    def _release_outputs(self, cid: int, nid: int) -> None:
        link = self.links.get(cid)
        if link is not None:
            for track in link.outputs.pop(nid, {}).values():
                track.stop()

    def _watch(self, peer: ServerPeer, cid: int, nid: int) -> None:
        """Report everything the peer does to the machine, tagged with its negotiation."""
        machine = self._machine

        def report(call: Callable[..., None], *args: Any) -> None:
            call(cid, nid, *args, time.monotonic())
            self._pump()

        def on_message(label: str, message: str | bytes) -> None:
            now = time.monotonic()
            if label == "data":
                machine.data_message(cid, message, now)
            else:
                machine.control_message(cid, message, now)
            self._pump()

        peer.on_connection_state = lambda state: report(machine.peer_state, state)
        peer.on_channel_open = lambda label: report(machine.channel_opened, label)
        peer.on_channel_close = lambda label: report(machine.channel_closed, label)
        peer.on_channel_message = on_message

    # ---- peer actions ---------------------------------------------------------------------

    def swap_to(self, cid: int, nid: int) -> None:
        link = self.links.get(cid)
        if link is None:
            return
        link.active = nid
        for old in [n for n in link.peers if n != nid]:
            self.drop_peer(cid, old)

    def drop_peer(self, cid: int, nid: int) -> None:
        link = self.links.get(cid)
        if link is None:
            return
        peer = link.peers.pop(nid, None)
        self._release_outputs(cid, nid)
        if link.active == nid:
            link.active = None
        if not link.peers and not link.outputs:
            del self.links[cid]
        if peer is not None:
            self._close_peer(peer)

    def close_link(self, cid: int) -> None:
        link = self.links.get(cid)
        if link is None:
            return
        for nid in list(link.peers) + list(link.outputs):
            self.drop_peer(cid, nid)
        self.links.pop(cid, None)

    def _close_peer(self, peer: ServerPeer) -> None:
        peer.on_connection_state = peer.on_channel_open = None
        peer.on_channel_close = peer.on_channel_message = None
        if not peer.closed:
            self._spawn(peer.close(), "reactor-peer-close")

    # ---- flows and sends ------------------------------------------------------------------

    def set_output(self, cid: int, track: str, paused: bool) -> None:
        link = self.links.get(cid)
        peer = None if link is None else link.active_peer()
        if link is None or peer is None or peer.closed:
            return
        assert link.active is not None
        output = link.outputs.get(link.active, {}).get(track)
        fanout = self._media.fanout(track)
        if output is None or fanout is None:
            return
        peer.set_output_paused(track, paused)
        self._media.set_flowing(track, output, not paused)
        # a swapped-out peer no longer consumes: only the active one flows
        for nid, outputs in link.outputs.items():
            other = outputs.get(track)
            if nid != link.active and other is not None and other.flowing:
                self._media.set_flowing(track, other, False)

    def set_input(self, cid: int, track: str, enabled: bool) -> None:
        link = self.links.get(cid)
        peer = None if link is None else link.active_peer()
        if peer is not None and not peer.closed:
            # LocalProtocolError: the client mapped no such track on this peer
            with contextlib.suppress(LocalProtocolError):
                peer.set_input_enabled(track, enabled)

    def _input_sink(self, track: str, cid: int) -> Callable[[Any], None]:
        machine, context = self._machine, self._context

        def deliver(frame: Any) -> None:
            # only the slot holder's media reaches the model (the machine decides who)
            if machine.slot_holder(track) == cid:
                context.set_input(track, frame)

        return deliver

    def _audio_sink(self, track: str, cid: int) -> Callable[[Pcm], None]:
        machine, context = self._machine, self._context

        def deliver(pcm: Pcm) -> None:
            if machine.slot_holder(track) == cid:
                context.push_audio(track, pcm)

        return deliver

    def send(self, cid: int, label: str, text: str | bytes) -> None:
        link = self.links.get(cid)
        peer = None if link is None else link.active_peer()
        if peer is None or peer.closed:
            return
        try:
            peer.send(label, text)
        except ReactorError as exc:  # closing channel or oversize: the client is going
            logger.debug("connection %d: %s send failed: %s", cid, label, exc)

    def add_candidates(self, cid: int, nid: int, found: Any) -> None:
        link = self.links.get(cid)
        peer = None if link is None else link.peers.get(nid)
        if peer is not None:
            self._spawn(add_candidates(peer, found), f"reactor-ice-{cid}")
