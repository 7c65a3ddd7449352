"""Staff: accounts, sessions, roles and audit (auth.py), the admin command (admin.py), the console by area (console/)."""
