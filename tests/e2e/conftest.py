"""End-to-end tests start the real stack (rasa run, rasa run actions, gateway) on free ports."""

from __future__ import annotations

import pytest

from tools.model import model_path
from tools.stack import Stack, free_port


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    model = model_path()
    assert model.exists(), f"no model for the current data at {model}: run `make train` (make test does)"
    running = Stack(
        gateway_port=free_port(), engine_port=free_port(), actions_port=free_port(),
        data_dir=tmp_path_factory.mktemp("stack"), model=model,
    )
    running.start()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
