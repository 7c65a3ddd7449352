"""Who may open a Socket.IO connection, and the staff cookie's Secure flag, follow the gateway's configured
address (PUBLIC_URL, default http://HOST:PORT), never what a client says:

- the widget's connection accepts the gateway's own origin and those in CORS_ORIGINS (no longer every
  origin when CORS_ORIGINS is unset); the staff namespace ``/staff`` only the gateway's own origin;
- the staff cookies are Secure when PUBLIC_URL is https, whatever the Host header says.

Real gateway processes; the Origin header is sent as a browser on another site would send it.
"""

from __future__ import annotations

from typing import Dict, Optional

import pytest
import socketio

from tests.gateway.conftest import HTTP, GatewayProcess, StaffSession, set_cookies, staff_user

CITY_SITE = "https://www.city.sapporo.example"  # the city's website, where the widget is embedded
PUBLIC = "https://chat.city.sapporo.example"  # the gateway behind the city's HTTPS proxy
STRANGER = "https://evil.example"


@pytest.fixture(scope="module")
def plain(engine, tmp_path_factory):
    """make run's gateway: nothing configured (http://127.0.0.1:PORT)."""
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("origins-plain"))
    yield process, staff_user(process, "origin-plain", "staff")
    process.stop()


@pytest.fixture(scope="module")
def public(engine, tmp_path_factory):
    """A production-like gateway: its public https address and the city's site for the widget."""
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("origins-public"), PUBLIC_URL=PUBLIC,
                             CORS_ORIGINS=CITY_SITE)
    yield process, staff_user(process, "origin-public", "staff")
    process.stop()


async def opens(gateway: GatewayProcess, origin: Optional[str], namespace: str = "/",
                session: Optional[StaffSession] = None) -> bool:
    """Whether a connection from ``origin`` (None: no Origin header, not a browser) is accepted."""
    headers: Dict[str, str] = dict(session.cookie) if session else {}
    if origin:
        headers["Origin"] = origin
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(gateway.url, namespaces=[namespace], transports=["websocket"], headers=headers,
                             wait_timeout=10)
    except socketio.exceptions.ConnectionError:
        return False
    try:
        return namespace in client.namespaces
    finally:
        await client.disconnect()


async def test_unset_cors_origins_means_the_gateways_own_origin_only(plain):
    gateway, session = plain
    own = gateway.url
    assert await opens(gateway, own)
    assert await opens(gateway, own.replace("127.0.0.1", "localhost"))
    assert await opens(gateway, None)  # not a browser: no Origin header, nothing to check
    assert not await opens(gateway, STRANGER)
    assert await opens(gateway, own, "/staff", session)
    assert not await opens(gateway, STRANGER, "/staff", session)


async def test_the_widget_accepts_the_city_site_the_staff_console_only_its_own_origin(public):
    gateway, session = public
    assert await opens(gateway, CITY_SITE)
    assert await opens(gateway, PUBLIC)
    assert not await opens(gateway, STRANGER)
    assert await opens(gateway, PUBLIC, "/staff", session)
    assert not await opens(gateway, CITY_SITE, "/staff", session)  # the widget's site is not the console's
    assert not await opens(gateway, STRANGER, "/staff", session)
    assert not await opens(gateway, gateway.url, "/staff", session)  # its loopback address is not its origin


@pytest.mark.parametrize("host", [None, "127.0.0.1", "localhost:8000"])
def test_staff_cookies_are_secure_behind_https_whatever_the_host_header(public, host):
    gateway, _ = public
    form = HTTP.get(f"{gateway.url}/staff/login", headers={"Host": host} if host else {})
    assert set_cookies(form)["staff_login_csrf"].get("secure") is True
