"""Shared fixtures. Tests that read the public corpora skip when $SOC_CORPUS is unset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The public test corpora (``$SOC_CORPUS``); skips the test when absent."""
    value = os.environ.get("SOC_CORPUS")
    if not value or not Path(value).is_dir():
        pytest.skip("SOC_CORPUS is not set: corpus tests skipped")
    return Path(value).resolve()


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
