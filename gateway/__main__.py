"""``python -m gateway`` starts the gateway (uvicorn serving the ASGI app)."""

import logging
import os

import uvicorn

from gateway.app import create_app
from gateway.settings import Settings


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per engine call is noise
    settings = Settings.from_env()
    _, asgi = create_app(settings)
    # ws_max_size: a WebSocket message (the widget's Socket.IO frames) is capped like an HTTP body; HTTP bodies are
    # capped while they stream in by the app itself (gateway/http_limits.py). uvicorn takes X-Forwarded-For only
    # from the addresses in FORWARDED_ALLOW_IPS (default 127.0.0.1: a reverse proxy on this machine), so the rate
    # limits see the citizen's address behind the proxy and a client cannot choose its own.
    uvicorn.run(asgi, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                ws_max_size=settings.max_body_bytes)


if __name__ == "__main__":
    main()
