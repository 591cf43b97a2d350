"""The resync policy of an outgoing video stream (reactor_proto.runtime.recovery)."""

from __future__ import annotations

import pytest

from reactor_proto.errors import LocalProtocolError
from reactor_proto.runtime.recovery import (
    SERVED_MEMORY,
    RecoveryConfig,
    RecoveryPolicy,
    seq_distance,
)

CONFIG = RecoveryConfig(settle=0.1, max_delay=0.5, min_interval=1.0, repair_timeout=0.8,
                        history=128, spell_packets=4)


def policy() -> RecoveryPolicy:
    return RecoveryPolicy(CONFIG)


def test_config_is_validated() -> None:
    with pytest.raises(LocalProtocolError, match="settle"):
        RecoveryConfig(settle=0)
    with pytest.raises(LocalProtocolError, match="sequence_jump"):
        RecoveryConfig(sequence_jump=1 << 15)
    assert RecoveryPolicy().config == RecoveryConfig()


def test_seq_distance_wraps() -> None:
    assert seq_distance(5, 65534) == 7
    assert seq_distance(10, 10) == 0
    assert seq_distance(10, 11) == 65535


def test_nothing_reported_means_no_resync() -> None:
    p = policy()
    assert not p.due(0.0)
    assert not p.due(100.0)
    assert p.nack([100], newest=110, now=0.0) == [100]  # one repairable loss: served
    assert not p.due(0.5)


def test_a_nack_for_a_packet_gone_from_history_resyncs_after_settling() -> None:
    p = policy()
    assert p.nack([1000], newest=1000 + 128, now=1.0) == []
    assert not p.due(1.05)  # still settling
    assert p.due(1.1)
    p.resynced(1.1)
    assert p.resyncs == 1 and not p.due(1.2)


def test_a_nack_from_the_future_is_not_served() -> None:
    p = policy()
    assert p.nack([200], newest=100, now=0.0) == []
    assert p.evidence == 1


def test_a_repeated_nack_means_the_retransmission_was_lost() -> None:
    p = policy()
    assert p.nack([50], newest=60, now=0.0) == [50]
    assert not p.due(0.2)
    assert p.nack([50], newest=70, now=0.3) == [50]  # served again, but noted
    assert p.due(0.4)


def test_a_large_spell_resyncs_even_when_every_packet_is_served() -> None:
    p = policy()
    assert p.nack([1, 2, 3], newest=10, now=0.0) == [1, 2, 3]
    assert not p.due(0.3)
    assert p.nack([4], newest=10, now=0.3) == [4]
    assert p.due(0.4)


def test_continuing_loss_still_resyncs_after_max_delay() -> None:
    p = policy()
    for step in range(5):
        p.nack([1000 + step], newest=5000, now=step * 0.1)  # unservable, every 100 ms
        assert not p.due(step * 0.1 + 0.05)
    assert p.due(0.5)


def test_resyncs_are_rate_limited() -> None:
    p = policy()
    p.nack([1], newest=1000, now=0.0)
    assert p.due(0.2)
    p.resynced(0.2)
    p.nack([2], newest=2000, now=0.3)
    assert not p.due(0.9)  # within min_interval of the last resync
    assert p.due(1.2)


def test_receiver_report_loss_beyond_the_requests_is_evidence() -> None:
    p = policy()
    p.receiver_report(0, now=0.0)  # baseline
    p.nack([7], newest=10, now=0.1)
    p.receiver_report(1, now=1.0)  # lost one, asked for one: repaired by RTX
    assert not p.due(1.5)
    p.receiver_report(3, now=2.0)  # two more lost that it never asked for: NACKs lost
    assert p.due(2.2)
    p.resynced(2.2)
    p.receiver_report(3, now=3.0)  # a new baseline after the resync
    p.receiver_report(3, now=4.0)
    assert not p.due(4.5)


def test_a_deficit_is_reported_once() -> None:
    p = policy()
    p.receiver_report(0, now=0.0)
    p.receiver_report(2, now=1.0)
    assert p.evidence == 1
    p.receiver_report(2, now=2.0)
    assert p.evidence == 1


def test_retransmissions_confirmed_by_the_rtx_report_need_no_resync() -> None:
    p = policy()
    p.nack([5], newest=9, now=0.0)
    p.retransmitted(300, now=0.0)
    p.rtx_report(highest=300, lost_total=0, now=0.5)
    assert not p.due(2.0)


def test_an_unconfirmed_retransmission_resyncs_after_the_repair_timeout() -> None:
    p = policy()
    p.retransmitted(65535, now=0.0)
    p.rtx_report(highest=65534, lost_total=0, now=0.5)  # not there yet
    assert not p.due(0.7)
    assert p.due(0.8)  # already quiet: no extra settling


def test_a_lost_retransmission_in_the_rtx_report_is_evidence() -> None:
    p = policy()
    p.rtx_report(highest=10, lost_total=0, now=0.0)
    p.retransmitted(11, now=0.1)
    p.rtx_report(highest=12, lost_total=1, now=0.5)
    assert p.due(0.65)


def test_bookkeeping_is_bounded() -> None:
    p = policy()
    for seq in range(SERVED_MEMORY + 10):
        p.retransmitted(seq, now=0.0)
    assert p.evidence == 1  # overflow: assume the worst, forget the rest
    q = RecoveryPolicy(RecoveryConfig(history=60000, spell_packets=1 << 20))
    lost = list(range(SERVED_MEMORY + 10))
    assert q.nack(lost, newest=SERVED_MEMORY + 20, now=0.0) == lost
    assert q.nack([0], newest=SERVED_MEMORY + 20, now=0.1) == [0]  # forgotten: served anew
