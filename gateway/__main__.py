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
    uvicorn.run(asgi, host=settings.host, port=settings.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
