"""Interop tests: real third-party SIP software against the running switch.

At the end of the run a matrix of results per peer is printed (peer x scenario x
transport x event loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.switch_process import USERS, SwitchProcess, free_port, write_config

_RESULTS: dict[tuple[str, str, str], dict[str, str]] = {}


@pytest.fixture
def switch(tmp_path: Path, loop_kind: str) -> Iterator[SwitchProcess]:
    port = free_port()
    config = write_config(tmp_path, port, USERS)
    with SwitchProcess(config, port, loop=loop_kind) as process:
        yield process


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("peer")
    if marker is None or report.when != "call" and not report.skipped:
        return
    params = getattr(item, "callspec", None)
    values = params.params if params is not None else {}
    key = (marker.args[0], marker.args[1], str(values.get("transport", "-")))
    _RESULTS.setdefault(key, {})[str(values.get("loop_kind", "uvloop"))] = report.outcome


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _RESULTS:
        return
    tr = terminalreporter
    tr.section("interop matrix (peer / scenario / transport: result per event loop)")
    loops = sorted({loop for r in _RESULTS.values() for loop in r})
    width = max(len("scenario"), *(len(scenario) for _, scenario, _ in _RESULTS))
    tr.write_line(f"{'peer':10} {'scenario':{width}} {'transport':9} " +
                  " ".join(f"{lp:8}" for lp in loops))
    for (peer, scenario, transport), results in sorted(_RESULTS.items()):
        cells = " ".join(f"{results.get(lp, '-'):8}" for lp in loops)
        tr.write_line(f"{peer:10} {scenario:{width}} {transport:9} {cells}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "peer(name, scenario): interop matrix entry")
