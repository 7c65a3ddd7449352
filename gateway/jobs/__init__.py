"""Scheduled jobs the gateway runs: 大型ごみ reminders (the counseling upkeep job is gateway/counseling/jobs.py)."""
