"""The scale-out topology, started once per test session (tools/scaleout.py): PostgreSQL, Redis, HAProxy,
2 action servers, 2 engines, 2 gateways on free loopback ports, with the fake LINE platform
(tests/gateway/line_fake.py) as LINE's API. Everything is stopped at the end, also when a test fails.

The fault tests kill and restart parts of it; each waits until the whole topology is back before it ends, so
the next test starts from a healthy topology.
"""

from __future__ import annotations

import pytest

from tests.gateway.line_fake import SECRET as LINE_SECRET, TOKEN as LINE_TOKEN, line_api_for_session  # noqa: F401
from tools.model import ROOT
from tests.scaleout.standin import BalancedStandIn
from tools.scaleout import Topology

START_TIMEOUT = 900  # s; measured: see readme_parts/scaleout_harness.md


def pytest_configure(config):
    config.addinivalue_line("markers", "scaleout: needs the scale-out topology's servers (tests/scaleout)")
    config.addinivalue_line("markers", "slow: the fault tests")
    config.addinivalue_line("markers", "full: needs the full topology (Rasa engines); not in make test-scaleout-short")


ORDER = ["test_haproxy_config", "test_short", "test_load", "test_cross_gateway", "test_faults"]  # faults last: they break things


def pytest_collection_modifyitems(items):
    """Tests on the full topology (Rasa engines, action servers) are marked ``full``: the short subset
    (make test-scaleout-short) runs the others, on 2 gateways with stand-in engines."""
    def rank(item) -> int:
        name = item.fspath.purebasename
        return ORDER.index(name) if name in ORDER else len(ORDER)

    for item in items:
        if "tests/scaleout" in str(item.fspath):
            item.add_marker(pytest.mark.scaleout)
            if "topology" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.full)
    items.sort(key=lambda item: rank(item) if "tests/scaleout" in str(item.fspath) else -1)


@pytest.fixture(scope="session")
def topology(tmp_path_factory, line_api):
    env = {"LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
           "LINE_API_BASE_URL": line_api.url, "LINE_API_DATA_BASE_URL": line_api.url + "/data",
           "COUNSELING_HOURS_FILE": str(ROOT / "tests" / "gateway" / "hours_always_open.yml"),
           # every test chat comes from 127.0.0.1: the limits stay on (in Redis), raised far above the tests
           "RATE_LIMIT_NEW_CONVERSATIONS": "100000 per hour", "RATE_LIMIT_ADDRESS_MESSAGES": "100000 per minute",
           "LINE_RETRY_BASE_DELAY": "0.2"}
    topo = Topology(tmp_path_factory.mktemp("scaleout"), gateway_env=env, engine_threads=1)
    with topo:
        print(f"\ntopology up in {topo.timings['total']:.0f}s: {topo.timings}")
        yield topo


def gateway_env(line_api) -> dict:
    return {"LINE_CHANNEL_SECRET": LINE_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": LINE_TOKEN,
            "LINE_API_BASE_URL": line_api.url, "LINE_API_DATA_BASE_URL": line_api.url + "/data",
            "COUNSELING_HOURS_FILE": str(ROOT / "tests" / "gateway" / "hours_always_open.yml"),
            "RATE_LIMIT_NEW_CONVERSATIONS": "100000 per hour", "RATE_LIMIT_ADDRESS_MESSAGES": "100000 per minute",
            "LINE_RETRY_BASE_DELAY": "0.2"}


@pytest.fixture(scope="session")
def stand_ins():
    engines = [BalancedStandIn().start(), BalancedStandIn().start()]
    yield engines
    for engine in engines:
        engine.stop()


@pytest.fixture(scope="session")
def light_topology(tmp_path_factory, line_api, stand_ins):
    """PostgreSQL, Redis, HAProxy and 2 gateways, with 2 stand-in engines behind HAProxy (the short subset)."""
    topo = Topology(tmp_path_factory.mktemp("scaleout-light"), gateway_env=gateway_env(line_api),
                    external_engines=[e.url.removeprefix("http://") for e in stand_ins])
    with topo:
        print(f"\nlight topology up in {topo.timings['total']:.0f}s")
        yield topo
