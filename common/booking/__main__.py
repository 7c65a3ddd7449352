"""Staff tools for the 大型ごみ bookings (until the staff console has them).

    python -m common.booking list [--day YYYY-MM-DD] [--ward 区] [--all]   # bookings, one a line
    python -m common.booking export [--day YYYY-MM-DD] [--ward 区]          # CSV for the crew, to stdout
    python -m common.booking cancel RECEIPT [--by NAME]                    # staff cancel (no deadline)
    python -m common.booking remind --dry-run [--now 2026-12-02T10:00]     # reminders due now

--db defaults to $ASSISTANT_DB_URL, else sqlite:///<repo>/var/assistant.db.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import List, Optional

from common.booking.dates import now_jst
from common.booking.store import BookingError, BookingStore, default_url


def _line(b) -> str:
    return "\t".join([b.day.isoformat(), b.ward, b.town, b.address, b.receipt_no, b.items_text, f"{b.total}円",
                      b.status])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.booking", description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help=f"SQLAlchemy URL (default: {default_url()})")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "export"):
        command = sub.add_parser(name)
        command.add_argument("--day", type=date.fromisoformat)
        command.add_argument("--ward")
        if name == "list":
            command.add_argument("--all", action="store_true", help="cancelled bookings too")
    cancel = sub.add_parser("cancel")
    cancel.add_argument("receipt")
    cancel.add_argument("--by", default="staff", help="who cancels (recorded)")
    remind = sub.add_parser("remind")
    remind.add_argument("--dry-run", action="store_true", required=True,
                        help="print the reminders due now (sending is the gateway's scheduled job)")
    remind.add_argument("--now", type=datetime.fromisoformat,
                        help="as if it were this time (JST), e.g. 2026-12-02T10:00")
    args = parser.parse_args(argv)
    store = BookingStore(args.db)

    if args.command == "list":
        for booking in store.list(args.day, args.ward, status=None if args.all else "booked"):
            print(_line(booking))
    elif args.command == "export":
        sys.stdout.write(store.export_csv(args.day, args.ward))
    elif args.command == "cancel":
        try:
            booking = store.cancel(args.receipt, by=args.by[:64], staff=True)
        except BookingError as exc:
            print(exc.message, file=sys.stderr)
            return 1
        print(_line(booking))
    else:
        for booking in store.due_reminders(args.now or now_jst()):
            print(_line(booking))
    return 0


if __name__ == "__main__":
    sys.exit(main())
