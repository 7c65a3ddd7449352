"""Fixtures for the engine-side tests (``postgres_url`` is in tests/conftest.py)."""

import subprocess

import pytest

from tests.official_data import OFFICIAL_DATA, OFFICIAL_TODAY
from tools.model import ENGINE_BIN, ROOT, engine_env


@pytest.fixture(scope="module")
def official_city_data(tmp_path_factory):
    """The city's official files (../shared) loaded into a fresh city-data store by the real importer, a fresh
    assistant database beside it, and the day pinned to OFFICIAL_TODAY, for one test module."""
    directory = tmp_path_factory.mktemp("official")
    url = f"sqlite:///{directory / 'citydata.db'}"
    subprocess.run([str(ENGINE_BIN / "python"), "-m", "bot.knowledge.citydata", "load", str(OFFICIAL_DATA), "--db", url],
                   cwd=ROOT, env=engine_env(), check=True, stdout=subprocess.DEVNULL)
    patch = pytest.MonkeyPatch()
    patch.setenv("CITYDATA_DB_URL", url)
    patch.setenv("ASSISTANT_DB_URL", f"sqlite:///{directory / 'assistant.db'}")
    patch.setenv("ASSISTANT_TODAY", OFFICIAL_TODAY)
    from bot.knowledge import garbage_knowledge
    garbage_knowledge._state.clear()
    yield directory
    garbage_knowledge._state.clear()
    patch.undo()
