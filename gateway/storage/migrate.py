"""``python -m gateway.storage.migrate [--url URL] [upgrade|current|check]``: the gateway DB's migrations.

Each gateway also upgrades at start (``connect``); this command is for operators who migrate before rolling
out (``make migrate``), or check a database (``check``: exit 1 when not at head or the tables differ from the
models). The URL defaults to the gateway's (``GATEWAY_DB_URL``, else var/gateway.db).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from common.migrate import main as _main
from gateway.storage.db import load_tables


def default_url() -> str:
    from gateway.settings import Settings

    return Settings.from_env().database_url()


def main(argv: Optional[List[str]] = None) -> int:
    return _main(argv, chain="gateway", default_url=default_url, metadata=load_tables)


if __name__ == "__main__":
    sys.exit(main())
