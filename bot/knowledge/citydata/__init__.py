"""The city's open data (garbage dictionary, sorting rules, collection calendar, postcodes):
importers into a knowledge store (SQLite by default) and read access for the actions."""
