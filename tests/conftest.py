"""Fixtures both environments' tests use (the engine's and the gateway's pytest both load this file)."""

import os

import pytest

from tools.pg import temporary_postgres


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL: TEST_POSTGRES_URL if given, else a throwaway server started for this run."""
    if os.environ.get("TEST_POSTGRES_URL"):
        yield os.environ["TEST_POSTGRES_URL"]
        return
    with temporary_postgres() as url:
        yield url
