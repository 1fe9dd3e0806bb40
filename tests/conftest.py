"""Fixtures shared by the integration and interop layers."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_kind(request: pytest.FixtureRequest) -> str:
    """Every process-level test runs under both event loops."""
    return str(request.param)
