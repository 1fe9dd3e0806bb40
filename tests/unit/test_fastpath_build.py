"""Loading the C data plane, and running without it."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import media.fastpath as fastpath
from media.aio import RelayBackend
from media.relay import Leg


@pytest.fixture
def no_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setattr(fastpath, "LIBRARY", tmp_path / "_rtpfast.so")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    fastpath.load.cache_clear()
    yield
    fastpath.load.cache_clear()


@pytest.mark.usefixtures("no_compiler")
def test_without_a_compiler_the_relay_runs_on_the_python_path() -> None:
    assert fastpath.load() is None

    async def main() -> None:
        backend = RelayBackend("127.0.0.1")
        try:
            assert backend.plane is None and backend.core.leg_type is Leg
        finally:
            backend.close()

    asyncio.run(main())


def test_a_compile_error_is_reported_with_the_compiler_output(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "broken.c"
    broken.write_text("int fp_poll(void) { return }\n")
    monkeypatch.setattr(fastpath, "SOURCE", broken)
    with pytest.raises(OSError, match="compiling broken.c failed"):
        fastpath.build(tmp_path / "out.so")
    assert not (tmp_path / "out.so").exists()
