"""``python -m gateway`` starts the gateway (uvicorn serving the ASGI app)."""

import logging
import os

import uvicorn

from gateway import logs
from gateway.app import create_app
from gateway.settings import Settings


def main() -> None:
    # LOG_FORMAT=json: one JSON object per line (gateway/logs.py); text (default): one readable line.
    as_json = logs.configure(os.environ.get("LOG_FORMAT", "text"), os.environ.get("LOG_LEVEL", "INFO"))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per engine call is noise
    settings = Settings.from_env()
    _, asgi = create_app(settings)
    if as_json:
        logs.adopt_library_loggers()  # Sanic and engine.io installed handlers of their own
    # ws_max_size: a WebSocket message (the widget's Socket.IO frames) is capped like an HTTP body; HTTP bodies are
    # capped while they stream in by the app itself (gateway/http_limits.py). uvicorn takes X-Forwarded-For only
    # from the addresses in FORWARDED_ALLOW_IPS (default 127.0.0.1: a reverse proxy on this machine), so the rate
    # limits see the citizen's address behind the proxy and a client cannot choose its own.
    # One process (no ``workers``): gateway/metrics.py's default registry relies on it. With JSON logs, uvicorn
    # keeps no logging config of its own (log_config=None): its lines go through the root logger too.
    uvicorn.run(asgi, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                ws_max_size=settings.max_body_bytes, **({"log_config": None} if as_json else {}))


if __name__ == "__main__":
    main()
