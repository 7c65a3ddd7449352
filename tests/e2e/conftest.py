"""End-to-end tests start the real stack (rasa run, rasa run actions, gateway) on free ports.

The action server reads the city's FULL official open data (../shared/data/sapporo, loaded into a
temporary SQLite store) and "today" is pinned inside that calendar (2024-10-01..2025-09-30).

The LINE channel is on: a fake LINE API (tests/gateway/line_fake.py, a real aiohttp server on loopback) is
started first, and the gateway gets its URL and the channel secret and token the fake expects.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.gateway.line_fake import SECRET as LINE_SECRET, TOKEN as LINE_TOKEN, line_api_for_session  # noqa: F401
from tests.official_data import OFFICIAL_DATA
from tests.socketio_client import WidgetClient
from tools.model import ENGINE_BIN, ROOT, engine_env, model_path
from tools.stack import Stack, free_port

TODAY = "2025-01-15"


@pytest.fixture(scope="session")
def stack(tmp_path_factory, line_api):
    model = model_path()
    assert model.exists(), f"no model for the current data at {model}: run `make train` (make test does)"
    data_dir = tmp_path_factory.mktemp("stack")
    citydata_url = f"sqlite:///{data_dir / 'citydata.db'}"
    subprocess.run([str(ENGINE_BIN / "python"), "-m", "bot.knowledge.citydata", "load", str(OFFICIAL_DATA), "--db", citydata_url],
                   cwd=ROOT, env=engine_env(), check=True, stdout=subprocess.DEVNULL)
    running = Stack(
        gateway_port=free_port(), engine_port=free_port(), actions_port=free_port(),
        data_dir=data_dir, model=model,
        extra_env={"CITYDATA_DB_URL": citydata_url, "ASSISTANT_TODAY": TODAY,
                   "COUNSELING_HOURS_FILE": str(ROOT / "tests" / "gateway" / "hours_always_open.yml"),
                   "ASSISTANT_DB_URL": f"sqlite:///{data_dir / 'assistant.db'}",
                   "LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
                   "LINE_API_BASE_URL": line_api.url, "LINE_API_DATA_BASE_URL": line_api.url + "/data",
                   # every test chat comes from this one address: the limits stay on, raised far above the tests
                   "RATE_LIMIT_NEW_CONVERSATIONS": "100000 per hour",
                   "RATE_LIMIT_ADDRESS_MESSAGES": "100000 per minute"},
    )
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture
async def widget(stack):
    """A website visitor with a fresh session, talking Socket.IO like rasa-webchat."""
    client = WidgetClient(stack.gateway_url)
    await client.connect()
    yield client
    await client.close()
