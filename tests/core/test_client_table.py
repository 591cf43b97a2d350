"""The client's transition table is a function: every (phase, trigger) pair leads to exactly
one phase, or is an error that leaves the machine in the sticky ``FAILED`` phase."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reactor_proto.client import TRANSITIONS, ClientConfig, ClientMachine, Phase, Trigger
from reactor_proto.client.phases import FLOW_PHASES, build_table, next_phase
from reactor_proto.client.state import ClientState, goto, phase_budget
from reactor_proto.errors import LocalProtocolError

PHASES = st.sampled_from(list(Phase))
TRIGGERS = st.sampled_from(list(Trigger))


def _state(phase: Phase) -> ClientState:
    state = ClientState.create(ClientConfig.create("helios", local=True), random.Random(0))
    state.phase = phase
    return state


@given(PHASES, TRIGGERS)
def test_every_pair_leads_to_one_phase_or_is_an_error(phase: Phase, trigger: Trigger) -> None:
    target = TRANSITIONS.get((phase, trigger))
    if target is None:
        with pytest.raises(LocalProtocolError, match="illegal transition"):
            next_phase(phase, trigger)
    else:
        assert next_phase(phase, trigger) is target
        assert next_phase(phase, trigger) is next_phase(phase, trigger)


@given(PHASES, TRIGGERS, TRIGGERS)
def test_the_machine_follows_the_table_and_a_missing_pair_is_sticky(
        phase: Phase, trigger: Trigger, then: Trigger) -> None:
    state = _state(phase)
    target = TRANSITIONS.get((phase, trigger))
    if target is not None:
        goto(state, trigger, 100.0)
        assert state.phase is target
        budget = phase_budget(state.config.deadlines, target)
        assert state.phase_deadline == (None if budget is None else 100.0 + budget)
        return
    with pytest.raises(LocalProtocolError):
        goto(state, trigger, 100.0)
    assert state.phase is Phase.FAILED
    with pytest.raises(LocalProtocolError):   # nothing leaves FAILED
        goto(state, then, 100.0)
    assert state.phase is Phase.FAILED


def test_a_pair_with_two_targets_is_refused() -> None:
    rows = [(Phase.IDLE, Trigger.CONNECT, Phase.CREATING_SESSION),
            (Phase.IDLE, Trigger.CONNECT, Phase.FETCHING_TOKEN)]
    with pytest.raises(ValueError, match="two targets"):
        build_table(rows)


def test_table_shape() -> None:
    sources = {source for source, _ in TRANSITIONS}
    targets = set(TRANSITIONS.values())
    assert Phase.FAILED not in sources | targets
    assert sources | targets == set(Phase) - {Phase.FAILED}
    assert {trigger for _, trigger in TRANSITIONS} == set(Trigger)
    # Every phase but FAILED is reachable from IDLE, and IDLE from every phase.
    reach = {Phase.IDLE}
    while True:
        more = {dst for (src, _), dst in TRANSITIONS.items() if src in reach} - reach
        if not more:
            break
        reach |= more
    assert reach == set(Phase) - {Phase.FAILED}
    back = {Phase.IDLE}
    while True:
        more = {src for (src, _), dst in TRANSITIONS.items() if dst in back} - back
        if not more:
            break
        back |= more
    assert back == set(Phase) - {Phase.FAILED}
    # Every attempt can be left three ways: keep, terminate or forget the session.
    for phase in FLOW_PHASES:
        assert TRANSITIONS[phase, Trigger.SUSPEND] is Phase.SUSPENDED
        assert TRANSITIONS[phase, Trigger.TERMINATE] is Phase.TERMINATING
        assert TRANSITIONS[phase, Trigger.FORGET] is Phase.IDLE


def test_machine_starts_idle() -> None:
    machine = ClientMachine(ClientConfig.create("helios", local=True), rng=random.Random(0))
    assert machine.phase is Phase.IDLE and machine.next_deadline() is None
