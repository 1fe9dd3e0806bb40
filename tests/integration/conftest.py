from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.switch_process import USERS, SwitchProcess, free_port, write_config


@pytest.fixture
def switch(tmp_path: Path, loop_kind: str) -> Iterator[SwitchProcess]:
    port = free_port()
    config = write_config(tmp_path, port, USERS, {
        "auth": {"bruteforce": {"max_failures": 3, "window": 60, "cooldown": 300}},
        "registrar": {"max_contacts_per_user": 3},
    })
    with SwitchProcess(config, port, loop=loop_kind) as process:
        yield process
