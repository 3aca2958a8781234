"""Collector tests: where the external test data lives (../shared/data, kept byte for byte)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import unavailable

DATA = Path(os.environ.get("SOC_TEST_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The external test data folder; its absence fails under CI and skips elsewhere."""
    if not (DATA / "README.md").is_file():
        unavailable(f"external test data not found at {DATA} (set SOC_TEST_DATA)")
    return DATA
