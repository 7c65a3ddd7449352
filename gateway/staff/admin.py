"""Staff accounts from the command line — how the first admin is made.

    python -m gateway.staff.admin create-admin USERNAME [--password-stdin]
    python -m gateway.staff.admin create-user USERNAME --role ROLE [--password-stdin]
    python -m gateway.staff.admin list-users
    python -m gateway.staff.admin deactivate USERNAME
    python -m gateway.staff.admin activate USERNAME
    python -m gateway.staff.admin set-password USERNAME [--password-stdin]

Every command takes ``--db URL`` (default: the gateway's database, ``GATEWAY_DB_URL`` or
``DATA_DIR/gateway.db``). Without ``--password-stdin`` the password is asked twice, unechoed; with it,
the first line of standard input is the password (for scripts: ``printf '%s\\n' "$PW" | …``).
The password is never printed or logged. Exit code 1 on any error.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Optional, Sequence

import sqlalchemy as sa

from gateway.staff import auth as staff_auth
from gateway.storage.db import connect
from gateway.settings import Settings


class CommandError(Exception):
    pass


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
        if not password:
            raise CommandError("標準入力からパスワードを読み取れませんでした。")
        return password
    try:
        first = getpass.getpass("パスワード: ")
        second = getpass.getpass("パスワード（確認）: ")
    except (EOFError, KeyboardInterrupt):
        raise CommandError("パスワードの入力が中断されました。") from None
    if first != second:
        raise CommandError("2回入力したパスワードが一致しません。")
    return first


def _create(engine: sa.engine.Engine, username: str, role: str, from_stdin: bool) -> None:
    staff_auth._check_username(username)  # before asking for a password that would be wasted
    user_id = staff_auth.create_user(engine, username, _read_password(from_stdin), role)
    staff_auth.audit(engine, None, "user_create", detail=f"cli: {username} ({role})")
    print(f"ユーザー「{username}」（役割: {role}, id: {user_id}）を作成しました。")


def _list(engine: sa.engine.Engine) -> None:
    users = staff_auth.list_users(engine)
    if not users:
        print("ユーザーはまだいません。create-admin で最初の管理者を作成してください。")
        return
    print(f"{'id':>4}  {'ユーザー名':<24}{'役割':<12}{'状態':<6}作成日時(UTC)")
    for user in users:
        state = "有効" if user["active"] else "無効"
        created = user["created_at"].strftime("%Y-%m-%d %H:%M") if user["created_at"] else "-"
        print(f"{user['id']:>4}  {user['username']:<28}{user['role']:<14}{state:<6}{created}")


def _set_active(engine: sa.engine.Engine, username: str, active: bool) -> None:
    staff_auth.set_active(engine, username, active)
    staff_auth.audit(engine, None, "user_activate" if active else "user_deactivate", detail=f"cli: {username}")
    if active:
        print(f"ユーザー「{username}」を有効にしました。")
    else:
        print(f"ユーザー「{username}」を無効にしました（ログイン中のセッションも終了しました）。")


def _set_password(engine: sa.engine.Engine, username: str, from_stdin: bool) -> None:
    if username not in {user["username"] for user in staff_auth.list_users(engine)}:
        raise CommandError(f"ユーザー「{username}」は存在しません。")
    staff_auth.set_password(engine, username, _read_password(from_stdin))
    staff_auth.audit(engine, None, "password_set", detail=f"cli: {username}")
    print(f"ユーザー「{username}」のパスワードを変更しました（ログイン中のセッションは終了しました）。")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help="データベースURL（既定: ゲートウェイの設定）")
    parser = argparse.ArgumentParser(prog="python -m gateway.staff.admin",
                                     description="職員アカウントの管理（最初の管理者の作成など）")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create_admin = commands.add_parser("create-admin", parents=[common], help="管理者を作成する")
    create_admin.add_argument("username")
    create_admin.add_argument("--password-stdin", action="store_true", help="パスワードを標準入力の1行目から読む")

    create_user = commands.add_parser("create-user", parents=[common], help="職員を作成する")
    create_user.add_argument("username")
    create_user.add_argument("--role", required=True, choices=staff_auth.ROLES)
    create_user.add_argument("--password-stdin", action="store_true", help="パスワードを標準入力の1行目から読む")

    commands.add_parser("list-users", parents=[common], help="職員の一覧")

    deactivate = commands.add_parser("deactivate", parents=[common], help="職員を無効にする")
    deactivate.add_argument("username")
    activate = commands.add_parser("activate", parents=[common], help="無効にした職員を再び有効にする")
    activate.add_argument("username")

    set_password = commands.add_parser("set-password", parents=[common], help="パスワードを変更する")
    set_password.add_argument("username")
    set_password.add_argument("--password-stdin", action="store_true", help="パスワードを標準入力の1行目から読む")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        engine = connect(args.db or settings.database_url(), settings.sqlite_synchronous)
        try:
            if args.command == "create-admin":
                _create(engine, args.username, "admin", args.password_stdin)
            elif args.command == "create-user":
                _create(engine, args.username, args.role, args.password_stdin)
            elif args.command == "list-users":
                _list(engine)
            elif args.command == "deactivate":
                _set_active(engine, args.username, False)
            elif args.command == "activate":
                _set_active(engine, args.username, True)
            elif args.command == "set-password":
                _set_password(engine, args.username, args.password_stdin)
        finally:
            engine.dispose()
    except (ValueError, CommandError) as error:
        print(f"エラー: {error}", file=sys.stderr)
        return 1
    except sa.exc.SQLAlchemyError as error:
        print(f"エラー: データベースに接続または書き込みできませんでした（{type(error).__name__}）。",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
