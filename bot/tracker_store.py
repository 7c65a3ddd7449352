"""The engine's SQL tracker store for PostgreSQL, with connections checked before use.

Rasa 3.6's SQLTrackerStore creates its SQLAlchemy engine without ``pool_pre_ping``: after a PostgreSQL restart
every pooled connection fails once, and Rasa's fail-safe wrapper then keeps that turn's events in memory only
(they never reach PostgreSQL). This subclass makes the same store with a pinging pool (a dead connection is
replaced before the turn uses it) and hides statement parameters in error messages (they hold the events, i.e.
what citizens wrote). Endpoints: ``tracker_store: {type: bot.tracker_store.PingingSQLTrackerStore, dialect:
postgresql, url, port, db, username, password}`` (tools/endpoints.py writes it from TRACKER_STORE_URL).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs


class PingingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
