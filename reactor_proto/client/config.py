"""Configuration of the client machine: endpoints, credentials, deadlines and schedules.

Every policy number lives here so that it is visible, documented and property-tested:
poll schedules, retry budgets and the deadline of each phase of ``connect``.
"""

from __future__ import annotations

import math
import random

import attrs

from ..addresses import is_loopback_host as is_loopback_host  # re-exported: public
from ..capabilities import TrackCapability
from ..constants import (
    CONTROL_REQUEST_TIMEOUT,
    LOCAL_API_URL,
    PING_INTERVAL,
    PRODUCTION_API_URL,
    SDK_TYPE,
    SDK_VERSION,
)
from ..errors import LocalProtocolError
from .stepping import check_options
from .wire import check_setting

#: seconds after READY before the spare peer is built: past the first frames (READY -> first
#: frame is 15-60 ms), long before a drop is likely
SPARE_PEER_DELAY = 0.5


@attrs.frozen(kw_only=True)
class PollSchedule:
    """Delays between polls: an immediate first poll, a dense phase, then exponential.

    The official clients sleep 200 ms before their *second* poll and double up to 10-15 s,
    wasting their last sleep.  We poll at once; then every ``dense`` seconds while less than
    ``dense_until`` seconds have been spent sleeping (the window in which the awaited thing
    usually turns up, see :data:`ANSWER_POLL`); then after ``first``, x``factor``, ... up to
    ``cap``.  The final poll is moved to the deadline itself instead of sleeping past it.
    ``dense=0`` (the default) has no dense phase.
    """

    first: float = 0.025
    factor: float = 2.0
    cap: float = 1.0
    dense: float = 0.0
    dense_until: float = 0.0

    @property
    def dense_polls(self) -> int:
        """How many delays of the dense phase come first."""
        if self.dense <= 0 or self.dense_until <= 0:
            return 0
        return max(0, math.ceil(self.dense_until / self.dense - 1e-9))

    def delay(self, attempt: int) -> float:
        """Sleep before poll number ``attempt + 1`` (attempt 0 = after the first poll)."""
        dense = self.dense_polls
        if attempt < dense:
            return float(self.dense)
        return float(min(self.cap, self.first * self.factor ** min(attempt - dense, 64)))

    def worst_case_requests(self, budget: float) -> int:
        """How many polls at most fit in ``budget`` seconds (the first one is at 0)."""
        elapsed, count, attempt = 0.0, 1, 0
        while elapsed < budget:
            elapsed = min(budget, elapsed + self.delay(attempt))
            count += 1
            attempt += 1
        return count


#: The SDP answer: the runtime answers in the POST (ours: the first poll has it) or some tens
#: of ms later (the official runtime: READY measured 82-86 ms when a poll landed just after
#: the answer, 127-135 ms when it had just missed it, and 83-100 ms polling every 10 ms; issue
#: 20).  So poll every 8 ms for the first quarter second (an answer is caught at most 8 ms
#: plus one round trip after it exists), then back off as before: about 31 + 21 requests in
#: the 15 s budget, against 21 before, and at most one request in flight at a time.
ANSWER_POLL = PollSchedule(dense=0.008, dense_until=0.25)


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Retry budget for transient HTTP failures (reset, timeout, 5xx, 429).

    ``Retry-After`` wins over the computed backoff; a wait that would end past the phase's
    deadline is not taken: the error is raised at once instead.
    """

    max_attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            return max(0.0, retry_after)
        raw = min(self.max_delay, self.base_delay * 2.0 ** min(attempt, 32))
        return raw * (1.0 + self.jitter * rng.random())


@attrs.frozen(kw_only=True)
class Deadlines:
    """Upper bounds, in seconds, for each phase (F3, F15: everything has a deadline)."""

    http_request: float = 10.0
    token: float = 30.0
    create_session: float = 30.0
    session_ready: float = 180.0
    ice_servers: float = 15.0
    register_connection: float = 15.0
    create_offer: float = 15.0
    send_offer: float = 15.0
    answer: float = 15.0
    apply_answer: float = 10.0
    transport: float = 20.0
    terminate: float = 10.0
    control_request: float = CONTROL_REQUEST_TIMEOUT
    #: a v1 command's reply (ack, model reply or error); the official client waits 10 s
    command_reply: float = 10.0
    upload: float = 120.0


@attrs.frozen(kw_only=True)
class ClientConfig:
    """Everything the client machine needs to know before ``connect``.

    ``api_key`` and ``jwt`` are kept out of ``repr`` so they never reach a log line.
    """

    model_name: str
    api_url: str = PRODUCTION_API_URL
    local: bool = False
    api_key: str | None = attrs.field(default=None, repr=False)
    jwt: str | None = attrs.field(default=None, repr=False)
    sdk_version: str = SDK_VERSION
    sdk_type: str = SDK_TYPE
    auto_resume_tracks: bool = True
    auto_reconnect: bool = False
    reconnect_grace: float = 30.0
    reconnect_delay: float = 3.0
    #: with auto_reconnect, seconds after READY at which the next connection's peer and
    #: offer are built ahead (``spare.py``); None: never
    spare_peer_delay: float | None = SPARE_PEER_DELAY
    model_tracks: tuple[TrackCapability, ...] | None = None
    extra_args: dict[str, object] | None = None
    validate_commands: bool = True
    request_schema: bool = True
    ping_interval: float = PING_INTERVAL
    deadlines: Deadlines = Deadlines()
    session_poll: PollSchedule = PollSchedule(first=0.05, cap=2.0)
    answer_poll: PollSchedule = ANSWER_POLL
    retry: RetryPolicy = RetryPolicy()
    max_queued_notifications: int = 64
    # False: when no GPU is free (the coordinator reports a queue position), fail the
    # connect with NoCapacityError instead of waiting in the queue (the legacy ``queueing``).
    queue: bool = True
    #: "auto" (decided per connection, see ``wire.py``), "v0" (JSON) or "v1" (protobuf)
    wire: str = "auto"
    #: §15: "streamed" (the default) or "stepped" (``stepping.py``)
    generation: str = "streamed"
    #: seconds a step may take, generation included (None: the default, 300 s)
    step_timeout: float | None = None

    @classmethod
    def create(
        cls,
        model_name: str,
        *,
        api_key: str | None = None,
        api_url: str | None = None,
        local: bool = False,
        **options: object,
    ) -> ClientConfig:
        """Build and check a configuration the way the public constructor is documented."""
        url = (api_url or (LOCAL_API_URL if local else PRODUCTION_API_URL)).rstrip("/")
        config = cls(model_name=model_name, api_key=api_key, api_url=url, local=local,
                     **options)  # type: ignore[arg-type]
        config.check()
        return config

    def check(self) -> None:
        """Raise :class:`LocalProtocolError` naming the first bad setting."""
        from ..http import parse_url

        if not isinstance(self.model_name, str) or not self.model_name:
            raise LocalProtocolError(f"model_name: expected a non-empty string, got "
                                     f"{self.model_name!r}")
        url = parse_url(self.api_url)
        if not self.local and self.api_key is None and self.jwt is None:
            raise LocalProtocolError(
                "api_key: required unless local=True or a jwt is given"
            )
        if (self.api_key is not None and not self.local and url.scheme == "http"
                and not is_loopback_host(url.host)):
            raise LocalProtocolError(
                f"api_url: refusing to send an API key over plain http to {url.host!r}; "
                "use https (plain http is allowed only for loopback hosts)"
            )
        check_setting(self.wire)
        check_options(self.generation, self.step_timeout)
        if self.ping_interval <= 0:
            raise LocalProtocolError(f"ping_interval: must be > 0, got {self.ping_interval!r}")
        delay = self.spare_peer_delay
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float)
                                  or not math.isfinite(delay) or delay < 0):
            raise LocalProtocolError(f"spare_peer_delay: expected None or a finite number "
                                     f">= 0, got {delay!r}")
