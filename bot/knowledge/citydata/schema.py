"""Tables of the city-data knowledge store (SQLAlchemy Core; SQLite by default, PostgreSQL alike).

Every table name starts with ``citydata_`` so the store can share a PostgreSQL database with the
engine's tracker store. Lists (alternatives, calendar codes) and metadata values are JSON text,
which both databases store the same way.

The importer replaces the content of all tables in one transaction; nothing else writes to them.
"""

from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, ForeignKey, Index, Integer, MetaData, PrimaryKeyConstraint,
                        String, Table, Text)

metadata = MetaData()

# Categories: one row per entry of data/garbage/categories.yml (all dictionary categories, plus
# categories that only have rules, e.g. 筒型乾電池).
categories = Table(
    "citydata_categories", metadata,
    Column("name", String(100), primary_key=True),  # as in gomi_dict.csv, e.g. "市で収集しないもの（家電4品目）"
    Column("label", String(200), nullable=False),
    Column("position", Integer, nullable=False),  # order of categories.yml
    Column("collected_by_city", Boolean, nullable=False),
    Column("who_takes_it", Text),
    Column("how", Text),
    Column("calendar_codes", Text, nullable=False),  # JSON list of ints
    Column("in_dictionary", Boolean, nullable=False),
)

# The garbage dictionary (gomi_dict.csv); id = position in the file.
items = Table(
    "citydata_items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(300), nullable=False),
    Column("category", String(100), ForeignKey("citydata_categories.name"), nullable=False),
    Column("base_name", String(300), nullable=False),
    Column("variant", String(300)),
    Column("alternatives", Text, nullable=False),  # JSON list of strings
    Column("kana_index", String(10), nullable=False),
)

# Sorting rules (gomi_sep.csv) as published; source_type is the file's own gomi_type.
rules = Table(
    "citydata_rules", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # position in the file
    Column("source_type", String(100), nullable=False),
    Column("frequency_fee", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("examples", Text, nullable=False),
    Column("how", Text, nullable=False),
    Column("remark", Text, nullable=False),  # "" when the file says 0
)

# Which rules apply to which category (resolved from categories.yml at import time).
category_rules = Table(
    "citydata_category_rules", metadata,
    Column("category", String(100), ForeignKey("citydata_categories.name"), nullable=False),
    Column("rule_id", Integer, ForeignKey("citydata_rules.id"), nullable=False),
    Column("position", Integer, nullable=False),
    PrimaryKeyConstraint("category", "rule_id"),
)

# gomitypenumber.csv: what a calendar code means (0 = no collection).
collection_codes = Table(
    "citydata_collection_codes", metadata,
    Column("code", Integer, primary_key=True, autoincrement=False),
    Column("label", Text, nullable=False),
)

# Calendar areas (the columns of gomi_calendar.csv).
areas = Table(
    "citydata_areas", metadata,
    Column("name", String(50), primary_key=True),  # e.g. "白石区1"
    Column("ward", String(20), nullable=False),
    Column("number", Integer, nullable=False),
    Column("position", Integer, nullable=False),  # column order in the file
)

# gomi_calendar.csv, one row per area and day (also the days with code 0).
calendar = Table(
    "citydata_calendar", metadata,
    Column("area", String(50), ForeignKey("citydata_areas.name"), nullable=False),
    Column("day", Date, nullable=False),
    Column("code", Integer, ForeignKey("citydata_collection_codes.code"), nullable=False),
    PrimaryKeyConstraint("area", "day"),  # also the index used for "area X from day D"
)

# sapporo_ken.csv with the calendar area resolved (None for part 0 and unmatched parts).
addresses = Table(
    "citydata_addresses", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # position in the file
    Column("postcode", String(7), nullable=False),
    Column("ward", String(20), nullable=False),
    Column("town", String(200), nullable=False),
    Column("part", Integer, nullable=False),
    Column("area", String(50), ForeignKey("citydata_areas.name")),
    Index("ix_citydata_addresses_postcode", "postcode"),
    Index("ix_citydata_addresses_ward_town", "ward", "town"),
)

# key → JSON value: source_directory, loaded_at, load_id, calendar_first, calendar_last, is_sample, …
store_metadata = Table(
    "citydata_metadata", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# Parents first: insert in this order, delete in reverse.
ALL_TABLES = (categories, items, rules, category_rules, collection_codes, areas, calendar, addresses,
              store_metadata)
