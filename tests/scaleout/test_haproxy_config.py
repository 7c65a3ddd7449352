"""deploy/haproxy/haproxy.cfg.template: HAProxy accepts it, and routes as the contract says (no servers needed)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tools.scaleout import TEMPLATE

ADDRESSES = {"GATEWAY_BIND": "127.0.0.1:18000", "ENGINE_BIND": "127.0.0.1:18001", "ACTIONS_BIND": "127.0.0.1:18002",
             "STATS_BIND": "127.0.0.1:18003", "GATEWAY_CHECK": "/livez",
             **{f"{tier}{n}_ADDR": f"127.0.0.1:{19000 + i * 2 + n}"
                for i, tier in enumerate(("GATEWAY", "ENGINE", "ACTIONS")) for n in (1, 2)}}


def backend(name: str) -> str:
    text = TEMPLATE.read_text()
    return re.search(rf"^backend {name}\n(.*?)(?=^\S|\Z)", text, re.S | re.M).group(1)


def test_haproxy_accepts_the_template():
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not shutil.which(haproxy):
        pytest.skip("haproxy is not installed (make system-packages)")
    result = subprocess.run([haproxy, "-c", "-f", str(TEMPLATE)], env=ADDRESSES, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout
    broken = subprocess.run([haproxy, "-c", "-f", str(TEMPLATE)], env={**ADDRESSES, "ENGINE1_ADDR": "no port"},
                            capture_output=True, text=True)
    assert broken.returncode != 0  # the check can fail


def test_each_tier_balances_as_the_contract_says():
    engines, actions, gateways = backend("engines"), backend("actions"), backend("gateways")
    assert "balance hdr(X-Conversation-Id)" in engines and "hash-type consistent" in engines
    assert "option httpchk GET /\n" in engines
    assert re.search(r"balance (roundrobin|leastconn)", actions) and "option httpchk GET /health" in actions
    assert "cookie GW insert" in gateways and 'option httpchk GET "${GATEWAY_CHECK}"' in gateways
    assert "timeout tunnel" in TEMPLATE.read_text()
