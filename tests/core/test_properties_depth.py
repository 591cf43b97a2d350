"""Properties of the real client, runtime and coordinator machines under random LEGAL schedules
(see ``paired.py`` for the delivery rules).

1. A connect (local, or through the coordinator) with random delays, extra polls and pings,
   and recoverable drops followed by a reconnect (explicit or automatic) ends READY, or in a
   typed ReactorError, within the sum of the documented deadlines.
2. Two clients racing for one publisher slot: at most one holds it at any time, every grant
   is the runtime's, and after the winner lets go (unpublish or disconnect) the other wins.
3. Once every client has gone (in any phase, noticed or not), the runtime's and the
   coordinator's bookkeeping is empty: no connection, slot, upload, session or timer.

The slow-marked tests at the end re-run these properties and the three existing state
machines with far more examples (``--run-slow -m slow``, with ``HYPOTHESIS_PROFILE=long``).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reactor_proto.client import OperationCompleted, OperationKind, Phase
from reactor_proto.errors import InvalidStateError, ReactorError
from reactor_proto.http import HttpRequest, HttpResponse
from reactor_proto.runtime import SessionState

from .paired import CONNECT_BOUND, MAX_LEG, NEGOTIATION_SLACK, ORPHAN, Endpoint, Paired
from .test_client_statemachine import ClientUnderChaos
from .test_coordinator_stateful import CoordinatorClient
from .test_runtime_stateful import AdversarialClients

# ==== property 1: a connect under a legal schedule ends READY (or typed) within the bound ====


def schedule_extras(net: Paired, e: Endpoint, count: int) -> None:
    """Independent traffic at random times: other pollers, extra pings and schema requests."""
    polls = ["/session", "/health", "/sessions/local/transport/webrtc/ice_servers"]
    for _ in range(count):
        when = net.rnd.uniform(0.0, 8.0)
        if net.front is None and net.rnd.random() < 0.5:
            path = net.rnd.choice(polls)
            request = HttpRequest(method="GET", url=f"http://localhost:8080{path}",
                                  headers=(("host", "localhost:8080"),))
            net.after(when, poller(net, request))
        else:
            kind = net.rnd.choice(("ping", "requestSchema"))
            net.after(when, messenger(net, e, kind))


def poller(net: Paired, request: HttpRequest) -> Callable[[], None]:
    """Another reader of the runtime's read-only routes (a dashboard, a second SDK)."""

    def poll() -> None:
        response = net.runtime.handle_request(request, net.now)
        assert response.status in (200, 404), response

    return poll


def messenger(net: Paired, e: Endpoint, kind: str) -> Callable[[], None]:
    """An extra ping or schema request from the client, whenever it happens to be READY."""

    def send() -> None:
        if e.phase() is Phase.READY and not e.vanished:
            e.client.send_runtime_message(kind, None, net.now)

    return send


def connect_and_settle(net: Paired, e: Endpoint) -> OperationCompleted:
    started = net.now
    op = e.client.connect(net.now)
    net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    done = e.done(op)
    assert done is not None, f"connect did not finish within {CONNECT_BOUND} s"
    assert net.now - started <= CONNECT_BOUND
    assert done.error is None or isinstance(done.error, ReactorError)
    return done


def settled_ready_or_typed(net: Paired, e: Endpoint, started: float) -> None:
    """After a drop: READY again (auto/explicit reconnect) or given up with a typed error."""
    bound = CONNECT_BOUND + e.client.config.reconnect_delay + e.client.config.reconnect_grace

    def settled() -> bool:
        return (e.client.phase is Phase.READY and e.client.is_quiescent()) or (
            e.client.phase in (Phase.IDLE, Phase.SUSPENDED) and e.client.next_deadline() is None)

    assert net.run(bound, stop=settled), e.client.phase
    assert net.now - started <= bound
    if e.client.phase is not Phase.READY:
        assert isinstance(e.client.last_error, ReactorError)
    # Every leg stayed inside its deadline and the drop was recoverable: it does come back.
    assert e.client.phase is Phase.READY, e.client.last_error


def explicit_reconnect(net: Paired, e: Endpoint) -> None:
    op = e.client.reconnect(net.now)
    net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    done = e.done(op)
    assert done is not None, f"reconnect did not finish within {CONNECT_BOUND} s"
    assert done.error is None or isinstance(done.error, ReactorError)


def run_connect_property(seed: random.Random, extras: int, drops: list[tuple[float, bool]],
                         production: bool) -> None:
    net = Paired(seed, front=production, max_session=None, delays=True)
    e = net.add_client(auto_reconnect=any(auto for _, auto in drops))
    schedule_extras(net, e, extras)
    done = connect_and_settle(net, e)
    # Every leg was inside its deadline and nothing failed: the connect must succeed.
    assert done.error is None, done.error
    assert e.client.phase is Phase.READY
    assert net.runtime.state is SessionState.STREAMING
    for wait, auto in drops:
        net.run(wait)
        if e.phase() is not Phase.READY:
            break
        net.drop(e)
        started = net.now
        if not auto:
            net.run(MAX_LEG * 2, stop=lambda: e.phase() is Phase.SUSPENDED)
            if e.phase() is Phase.SUSPENDED:
                explicit_reconnect(net, e)
        settled_ready_or_typed(net, e, started)
    stop = e.client.disconnect(net.now)
    net.run(CONNECT_BOUND, stop=lambda: e.done(stop) is not None)
    assert e.done(stop) is not None
    assert e.phase() is Phase.IDLE
    net.run(ORPHAN + NEGOTIATION_SLACK)
    net.assert_runtime_empty()


#: Every random choice of a schedule comes from one seeded generator (drawn up front, so the
#: test itself never draws from hypothesis and stays replayable).
SEEDS = st.integers(0, 2**64 - 1).map(random.Random)
DROPS = st.lists(st.tuples(st.floats(0.0, 15.0), st.booleans()), max_size=2)


def fast(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def slow(examples: int, **extra: int) -> settings:
    """Long-run settings: at least ``examples``, more when the loaded profile asks for more."""
    return settings(max_examples=max(examples, settings().max_examples), deadline=None,
                    suppress_health_check=list(HealthCheck), **extra)  # type: ignore[arg-type]


def local_connect(seed: random.Random, extras: int, drops: list[tuple[float, bool]]) -> None:
    run_connect_property(seed, extras, drops, production=False)


def production_connect(seed: random.Random, extras: int,
                       drops: list[tuple[float, bool]]) -> None:
    run_connect_property(seed, extras, drops, production=True)


CONNECTS = given(seed=SEEDS, extras=st.integers(0, 6), drops=DROPS)
test_local_connect_under_legal_schedules = fast(400)(CONNECTS(local_connect))
test_production_connect_under_legal_schedules = fast(150)(CONNECTS(production_connect))


# ==== property 2: two clients race for one publisher slot ====================================

RACE_OPS = st.lists(st.tuples(st.sampled_from(["publish", "publish", "unpublish", "drop",
                                               "suspend", "leave", "come_back", "wait"]),
                              st.integers(0, 1), st.floats(0.0, 3.0)), min_size=1, max_size=20)


def installed_cids(net: Paired) -> set[int]:
    return {c.connection_id for c in net.runtime.connections if c.installed}


def check_one_publisher(net: Paired) -> None:
    """At any instant at most one connected client holds the slot, and it is the runtime's."""
    slot = net.runtime.slots.get("webcam")
    live = installed_cids(net)
    assert slot is None or slot in live, (slot, live)
    holders = [e for e in net.endpoints if e.publishing() and e.cid() in live]
    assert len(holders) <= 1, [e.name for e in holders]
    if holders:
        assert slot == holders[0].cid()


def race_op(net: Paired, e: Endpoint, what: str) -> None:
    c, now = e.client, net.now
    try:
        if what == "publish" and c.phase is Phase.READY and not e.publishing():
            # A second publish while the first is pending is refused (InvalidStateError, see
            # test_fuzz_regressions.py); the schedule may still ask for it.
            e.publish_ops.append(c.publish_track("webcam", now))
        elif what == "unpublish" and e.publishing():
            c.unpublish_track("webcam", now)
        elif what == "drop":
            net.drop(e)
        elif what == "suspend":
            c.disconnect(now, recoverable=True)
        elif what == "leave":
            c.disconnect(now)
        elif what == "come_back":
            come_back(e, now)
    except InvalidStateError:
        pass  # a legal race: the phase changed between the choice and the call


def come_back(e: Endpoint, now: float) -> None:
    if e.client.phase is Phase.IDLE:
        e.client.connect(now)
    elif e.client.phase is Phase.SUSPENDED:
        e.client.reconnect(now)


def bring_up(net: Paired, e: Endpoint) -> None:
    """Return a client to READY (whatever the race left it in), with a generous bound."""
    for _ in range(3):
        net.run(CONNECT_BOUND, stop=lambda: e.client.phase in (Phase.IDLE, Phase.SUSPENDED,
                                                              Phase.READY)
                and e.client.is_quiescent())
        if e.client.phase is Phase.READY:
            return
        come_back(e, net.now)
    raise AssertionError(f"{e.name} could not come back: {e.client.phase}")


def publish_and_wait(net: Paired, e: Endpoint) -> OperationCompleted:
    op = e.client.publish_track("webcam", net.now)
    e.publish_ops.append(op)
    net.run(CONNECT_BOUND, stop=lambda: e.done(op) is not None)
    done = e.done(op)
    assert done is not None and done.kind is OperationKind.PUBLISH
    return done


def two_clients_race(
        seed: random.Random, ops: list[tuple[str, int, float]], stagger: float) -> None:
    net = Paired(seed, delays=True)
    first, second = net.add_client(), net.add_client()
    net.checks.append(lambda: check_one_publisher(net))
    both = (first, second)
    come_back(first, net.now)
    net.after(stagger, lambda: come_back(second, net.now))
    net.run(CONNECT_BOUND, stop=lambda: all(e.client.phase is Phase.READY and
                                             e.client.is_quiescent() for e in both))
    assert all(e.client.phase is Phase.READY for e in both)
    for what, index, delay in ops:
        e = both[index]
        net.after(delay, lambda e=e, what=what: race_op(net, e, what))  # type: ignore[misc]
        net.run(delay * net.rnd.random())  # the next op may overtake this one's messages
    net.run(MAX_LEG * 4)
    # Liveness: whoever holds the slot lets go; the other one can then win it.
    for e in both:
        bring_up(net, e)
    holder = next((e for e in both if e.publishing()), None)
    if holder is not None:
        holder.client.unpublish_track("webcam", net.now)
        net.run(MAX_LEG * 4)
    contender = both[1] if holder is both[0] else both[0]
    won = publish_and_wait(net, contender)
    assert won.error is None, won.error
    other = both[0] if contender is both[1] else both[1]
    refused = publish_and_wait(net, other)
    assert refused.error is not None and refused.error.code == "PUBLISHER_SLOT_TAKEN"
    assert net.slot_grants[-1][1] == contender.cid()
    # And once the winner is gone entirely, the other one wins.
    net.vanish(contender, transport_noticed=True)
    net.run(MAX_LEG * 40)
    assert publish_and_wait(net, other).error is None


RACES = given(seed=SEEDS, ops=RACE_OPS, stagger=st.floats(0.0, 2.0))
test_two_clients_race_for_the_publisher_slot = fast(300)(RACES(two_clients_race))


# ==== property 3: nothing is left once every client has gone =================================

EXITS = st.sampled_from(["leave", "suspend", "vanish", "vanish_unnoticed", "drop"])
PLANS = st.lists(st.tuples(st.floats(0.0, 8.0), st.floats(0.0, 12.0), EXITS, st.booleans()),
                 min_size=1, max_size=3)


def leave_somehow(net: Paired, e: Endpoint, how: str, upload: bool) -> None:
    c = e.client
    if upload and c.phase is Phase.READY:
        c.upload("a.txt", "text/plain", b"hello", net.now)
    if how == "leave":
        c.disconnect(net.now)
    elif how == "suspend":
        c.disconnect(net.now, recoverable=True)
    elif how == "drop":
        net.drop(e)
        net.after(MAX_LEG * 3, lambda: net.vanish(e, transport_noticed=False))
    else:
        net.vanish(e, transport_noticed=how == "vanish")


def run_everyone_leaves(seed: random.Random, plans: list[tuple[float, float, str, bool]],
                        front: bool) -> Paired:
    net = Paired(seed, front=front, max_session=None, delays=True)
    for start, stay, how, upload in plans:
        e = net.add_client(auto_reconnect=net.rnd.random() < 0.5)
        net.after(start, lambda e=e: come_back(e, net.now))  # type: ignore[misc]
        # ``stay`` may end mid-connect: a client can vanish in any phase.
        net.after(start + stay, lambda e=e, how=how, upload=upload: (  # type: ignore[misc]
            leave_somehow(net, e, how, upload)))
    net.run(20.0)
    for e in net.endpoints:  # whoever is still around (a recoverable exit) goes quiet too
        net.vanish(e, transport_noticed=False)
    net.run(ORPHAN + NEGOTIATION_SLACK)
    return net


def runtime_empty_after_everyone_left(
        seed: random.Random, plans: list[tuple[float, float, str, bool]]) -> None:
    net = run_everyone_leaves(seed, plans, front=False)
    net.assert_runtime_empty()


def coordinator_empty_after_everyone_left(
        seed: random.Random, plans: list[tuple[float, float, str, bool]]) -> None:
    net = run_everyone_leaves(seed, plans, front=True)
    # No session duration limit: the runtime's own timers end each session (WAITING or
    # ORPHANED with nobody left), the coordinator's poll sees it, closed retention purges it.
    net.run(ORPHAN + 60.0)
    net.assert_front_empty()
    net.assert_runtime_empty()


LEAVES = given(seed=SEEDS, plans=PLANS)
test_runtime_bookkeeping_is_empty_once_every_client_has_gone = fast(250)(
    LEAVES(runtime_empty_after_everyone_left))
test_coordinator_bookkeeping_is_empty_once_every_client_has_gone = fast(120)(
    LEAVES(coordinator_empty_after_everyone_left))


# ==== long runs (opt-in: --run-slow -m slow, ideally HYPOTHESIS_PROFILE=long) ================

test_local_connect_long = pytest.mark.slow(slow(3000)(CONNECTS(local_connect)))
test_production_connect_long = pytest.mark.slow(slow(1500)(CONNECTS(production_connect)))
test_two_clients_race_long = pytest.mark.slow(slow(3000)(RACES(two_clients_race)))
test_runtime_bookkeeping_long = pytest.mark.slow(
    slow(2000)(LEAVES(runtime_empty_after_everyone_left)))
test_coordinator_bookkeeping_long = pytest.mark.slow(
    slow(1000)(LEAVES(coordinator_empty_after_everyone_left)))


class LongClientUnderChaos(ClientUnderChaos):
    """The client state machine with 10x the examples and twice the steps."""


class LongAdversarialClients(AdversarialClients):
    """The runtime state machine with far more examples and steps."""


class LongCoordinatorClient(CoordinatorClient):
    """The coordinator state machine with far more examples and steps."""

    def teardown(self) -> None:
        # The inherited teardown deletes every session it has seen in one burst; long runs
        # collect more sessions than the rate limit's burst, and the coordinator then rightly
        # answers 429.  Pace the deletes so the emptiness check still runs.
        driver = self.d
        delete = driver.delete

        def paced(jwt: str, session_id: str, reason: str | None = None) -> HttpResponse:
            driver.advance(0.1)
            return delete(jwt, session_id, reason)

        driver.delete = paced  # type: ignore[method-assign]
        super().teardown()


LongClientUnderChaos.TestCase.settings = slow(2000, stateful_step_count=100)
LongAdversarialClients.TestCase.settings = slow(1000, stateful_step_count=80)
LongCoordinatorClient.TestCase.settings = slow(1000, stateful_step_count=80)
TestLongClientUnderChaos = pytest.mark.slow(LongClientUnderChaos.TestCase)
TestLongAdversarialClients = pytest.mark.slow(LongAdversarialClients.TestCase)
TestLongCoordinatorClient = pytest.mark.slow(LongCoordinatorClient.TestCase)
