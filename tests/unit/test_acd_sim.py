"""The simulator (real core, M/M/c workload) against Erlang C.

Tolerance (stated): pooled over two seeded runs of 15,000 calls (1,000 warm-up each)
at c = 10 agents, load 0.7, AHT 180 s, threshold 20 s — service level and P(wait)
within 0.04 absolute, average speed of answer within 30 % relative. Sampling error
at this size (measured over seeds 1-6): SL ±0.03, ASA ±30 % per single run.
"""

from __future__ import annotations

import pytest

from acd.sim import Simulator, erlang_c, erlang_c_metrics


def test_erlang_c_known_value() -> None:
    # textbook: 10 agents, 8 erlangs -> P(wait) ~ 0.409
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=1e-3)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho
    assert erlang_c(3, 3.0) == 1.0


def test_single_queue_matches_erlang_c() -> None:
    c, rho, aht, t = 10, 0.7, 180.0, 20.0
    lam = rho * c / aht
    runs = [Simulator(agents=c, arrival_rate=lam, mean_handle_s=aht, threshold_s=t,
                      seed=s).run(15000, warmup=1000) for s in (1, 2)]  # fmt: skip
    asa = sum(r.asa_s for r in runs) / 2
    sl = sum(r.service_level for r in runs) / 2
    pw = sum(r.p_wait for r in runs) / 2
    e = erlang_c_metrics(agents=c, arrival_rate=lam, mean_handle_s=aht, threshold_s=t)
    assert all(r.answered == 14000 for r in runs)
    assert sl == pytest.approx(e.service_level, abs=0.04)
    assert pw == pytest.approx(e.p_wait, abs=0.04)
    assert asa == pytest.approx(e.asa_s, rel=0.30)


def test_simulator_is_seeded() -> None:
    a = Simulator(agents=3, arrival_rate=0.01, mean_handle_s=200, seed=5).run(300)
    b = Simulator(agents=3, arrival_rate=0.01, mean_handle_s=200, seed=5).run(300)
    assert a == b
