"""Overload control: shed only while CPU-bound *and* peers retransmit."""

from __future__ import annotations

from switch.overload import OverloadControl


def test_busy_alone_sheds_nothing() -> None:
    control = OverloadControl()
    for _ in range(10):
        assert control.update(busy=1.0, received=1000, retransmissions=0) == 0.0


def test_retransmissions_alone_shed_nothing() -> None:
    control = OverloadControl()
    assert control.update(busy=0.5, received=1000, retransmissions=500) == 0.0


def test_share_grows_while_overloaded_and_is_capped() -> None:
    control = OverloadControl(step=0.1, max_share=0.3)
    shares = [control.update(busy=0.99, received=1000, retransmissions=100) for _ in range(5)]
    assert shares == [0.1, 0.2, 0.3, 0.3, 0.3]


def test_share_shrinks_back_to_zero() -> None:
    control = OverloadControl(step=0.1)
    for _ in range(3):
        control.update(busy=0.99, received=1000, retransmissions=100)
    shares = [control.update(busy=0.6, received=1000, retransmissions=0) for _ in range(4)]
    assert shares == [0.2, 0.1, 0.0, 0.0]


def test_threshold_is_relative_to_traffic() -> None:
    control = OverloadControl(retransmit_threshold=0.01)
    assert control.update(busy=1.0, received=1000, retransmissions=10) == 0.0
    assert control.update(busy=1.0, received=1000, retransmissions=11) > 0.0
    assert control.update(busy=1.0, received=0, retransmissions=0) < 0.2
