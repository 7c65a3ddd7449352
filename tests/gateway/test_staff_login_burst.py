"""Bursts of staff logins: the limiter counts each try before its password is hashed, so 100 parallel wrong
passwords from one address hash at most 5 (the limit; real gateway process, the real login form); and
password hashes wait for one of a few slots (HashGate) instead of filling the thread pool every chat's
database call needs.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from gateway.staff import auth as staff_auth
from gateway.staff.console.common import HASH_CONCURRENCY, HashGate
from gateway.storage.db import run_db
from tests.gateway.conftest import GatewayProcess, create_staff_user, login_form

BURST = 100
_HASH = staff_auth.hash_password("the-right-password-1")


def _post_login(url: str, form: tuple, username: str, password: str) -> int:
    token, cookie = form
    with httpx.Client(timeout=120) as client:
        return client.post(f"{url}/staff/login", data={"csrf_token": token, "username": username, "password": password},
                           headers={"Cookie": f"staff_login_csrf={cookie}"}).status_code


def test_100_parallel_wrong_passwords_hash_at_most_five(engine, tmp_path):
    process = GatewayProcess(engine.url, tmp_path)  # its own: the limit counts per address
    try:
        create_staff_user(process, "burst-target", "staff", "the-right-password-1")
        forms = [login_form(process.url) for _ in range(BURST)]
        with ThreadPoolExecutor(BURST) as pool:
            statuses = list(pool.map(lambda i: _post_login(process.url, forms[i], "burst-target", f"guess-{i}"),
                                     range(BURST)))
        hashed = statuses.count(401)  # a 401 is a password that was checked; a 429 was refused before
        print(f"{BURST} parallel wrong passwords: {hashed} hashed, {statuses.count(429)} refused")
        assert hashed <= 5 and statuses.count(429) == BURST - hashed, statuses
        assert process.log().count("staff login failed: wrong password") == hashed
        assert _post_login(process.url, login_form(process.url), "burst-target", "the-right-password-1") == 429
    finally:
        process.stop()


async def test_password_hashes_wait_for_a_slot_and_leave_the_thread_pool_to_chats():
    """The gate the login and user creation go through, with real argon2 hashes, in the event loop's default
    thread pool (the one gateway.storage.db.run_db uses): at most HASH_CONCURRENCY hashes at once, and a
    database call made during a burst of 100 hashes does not wait behind them."""
    gate = HashGate()
    burst = [asyncio.create_task(gate.run(staff_auth.verify_password, _HASH, f"wrong-{i}")) for i in range(BURST)]
    await asyncio.sleep(0.05)  # the burst is under way
    waits = []
    for _ in range(20):  # a chat's database calls meanwhile
        started = time.monotonic()
        await run_db(time.sleep, 0)
        waits.append(time.monotonic() - started)
        await asyncio.sleep(0.01)
    still_hashing = sum(not task.done() for task in burst)
    started = time.monotonic()
    await asyncio.gather(*burst)
    per_hash = (time.monotonic() - started) / max(1, still_hashing) * HASH_CONCURRENCY
    print(f"peak {gate.peak} hashes at once; a database call waited at most {max(waits) * 1000:.0f} ms "
          f"(one hash ~{per_hash * 1000:.0f} ms; {still_hashing} still queued after the calls)")
    assert gate.peak <= HASH_CONCURRENCY
    assert still_hashing > 0, "the burst was over before the database calls: nothing was measured"
    assert max(waits) < per_hash, waits  # never behind a hash: threads stay free for chats
