"""Command line: load the city's open-data files into the store, or show what is loaded.

    python -m bot.knowledge.citydata load DIR [--db URL] [--categories FILE]
    python -m bot.knowledge.citydata stats [--db URL]

--db defaults to $CITYDATA_DB_URL, else sqlite:///<repo>/var/citydata.db.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from sqlalchemy import func, select

from bot.knowledge.citydata import schema
from bot.knowledge.citydata.importer import CityDataError, load_directory
from bot.knowledge.citydata.store import CityDataNotLoaded, CityDataStore, default_url


def _load(args: argparse.Namespace) -> int:
    try:
        report = load_directory(args.directory, args.db, args.categories)
    except CityDataError as exc:
        print(f"city data NOT loaded (the store is unchanged): {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def _stats(args: argparse.Namespace) -> int:
    store = CityDataStore(args.db, refresh_seconds=0)
    try:
        meta = store.metadata()
        if not meta:
            raise CityDataNotLoaded("empty")
        engine = store._get_engine()  # one count per table: what is really in the database
        with engine.connect() as conn:
            counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar() for t in schema.ALL_TABLES}
    except CityDataNotLoaded:
        print(f"no city data in {store.url}: run `python -m bot.knowledge.citydata load DIR`", file=sys.stderr)
        return 1
    first, last = store.calendar_range() or (None, None)
    print(f"store:      {store._safe_url()}")
    print(f"source:     {meta.get('source_directory')}{'  (SAMPLE data)' if meta.get('is_sample') else ''}")
    print(f"loaded at:  {meta.get('loaded_at')}")
    print(f"calendar:   {first} .. {last}")
    print(f"wards:      {' '.join(store.wards())}")
    print(f"areas:      {' '.join(a.name for a in store.areas())}")
    for name, count in counts.items():
        print(f"  {name:<26} {count:>6}")
    for warning in meta.get("warnings") or []:
        print(f"  import warning: {warning}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.knowledge.citydata", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load", help="import gomi_dict.csv, gomi_sep.csv, gomi_calendar.csv, gomitypenumber.csv, "
                                       "sapporo_ken.csv from DIR (replaces the previous data)")
    load.add_argument("directory", metavar="DIR")
    load.add_argument("--db", default=None, help=f"SQLAlchemy URL (default: {default_url()})")
    load.add_argument("--categories", default=None, help="categories file (default: data/garbage/categories.yml)")
    load.set_defaults(func=_load)
    stats = sub.add_parser("stats", help="what is loaded")
    stats.add_argument("--db", default=None, help=f"SQLAlchemy URL (default: {default_url()})")
    stats.set_defaults(func=_stats)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
