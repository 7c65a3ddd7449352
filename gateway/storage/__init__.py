"""The gateway's database: the engine and ``connect()`` (db.py), and each table with its store."""
