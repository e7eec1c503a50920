"""`semantik <command>`: the service modes the systemd units run, and the admin commands."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable

from semantik.shared.config import MODES, ConfigError, Settings, load_settings, problems, require

COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help_text: str):
    def register(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help_text, func)
        return func

    return register


@command("webui", "serve the control-plane API (gunicorn + uvicorn workers)")
def _webui(_: argparse.Namespace) -> int:
    from semantik.webui.server import serve

    serve(require("webui"))
    return 0


@command("vecpipe", "serve embeddings and the vector store (one process: it owns the store)")
def _vecpipe(_: argparse.Namespace) -> int:
    from semantik.vecpipe.main import serve

    serve(require("vecpipe"))
    return 0


def _quiet(settings: Settings) -> list[str]:
    """Celery prints a banner, not a log line: none among JSON lines (the level: celery_app's logs)."""
    return ["--quiet"] if settings.log_format == "json" else []


@command("worker", "run the Celery worker that ingests documents (index, append, reindex, sync, ...)")
def _worker(_: argparse.Namespace) -> int:
    settings = require("worker")
    # SIGTERM (systemd's stop) as Celery's cold shutdown with a soft-shutdown wait, not its warm
    # shutdown, which waits for a running operation however long it takes: see celery_app.configure.
    # billiard reads this once, when first imported, so before Celery is.
    if "billiard.common" in sys.modules:
        raise RuntimeError("billiard imported before REMAP_SIGTERM was set")
    os.environ["REMAP_SIGTERM"] = "SIGQUIT"
    from semantik.shared import logs, metrics

    logs.setup(settings.log_format, settings.log_level)  # before Celery's first warning

    if settings.metrics_port:
        metrics.multiprocess("worker")  # the pool's children count too
    from semantik.worker.celery_app import app
    from semantik.worker.metrics import QueueLength

    metrics.serve(settings, QueueLength(app))
    app.worker_main([*_quiet(settings), "worker", f"--concurrency={settings.worker_concurrency}"])
    return 0


@command("beat", "run the periodic scheduler (re-sync, reaping, cleanup); schedule file under DATA_DIR")
def _beat(_: argparse.Namespace) -> int:
    settings = require("beat")
    from semantik.shared import logs, metrics

    logs.setup(settings.log_format, settings.log_level)
    from semantik.worker.celery_app import app
    from semantik.worker.metrics import watch_beat

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    watch_beat(app)
    metrics.serve(settings)
    app.start([*_quiet(settings), "beat"])
    return 0


@command("flower", "serve Flower (Celery monitoring) behind basic auth")
def _flower(_: argparse.Namespace) -> int:
    from semantik.shared import logs
    from semantik.shared.config import forget_environment
    from semantik.shared.queue import make_celery

    settings = require("flower")
    forget_environment("FLOWER_")  # passed as options below; see forget_environment
    logs.setup(settings.log_format, settings.log_level)
    options = {
        "address": settings.flower_host,
        "port": settings.flower_port,
        "url_prefix": settings.flower_url_prefix,
        "basic_auth": settings.flower_basic_auth,
    }
    if settings.flower_tls_cert and settings.flower_tls_key:  # problems() refuses half a pair
        options |= {"certfile": settings.flower_tls_cert, "keyfile": settings.flower_tls_key}
    # --logging=none: tornado adds no handler of its own beside the services' (every line twice).
    arguments = [f"--{name}={value}" for name, value in options.items()]
    make_celery(settings).start(["flower", "--logging=none", *arguments])
    return 0


@command("migrate", "upgrade the database schema to the newest revision, or move it --to another")
def _migrate(args: argparse.Namespace) -> int:
    from semantik.shared.migrations import MigrationRefused, migrate_to

    require("migrate")
    try:
        before, after = migrate_to(args.to, force=args.force)
    except MigrationRefused as error:
        print(f"semantik migrate: {error}", file=sys.stderr)
        return 1
    print(f"schema: {before or 'none'} -> {after or 'none'}")
    return 0


@command("check-config", "name every missing, invalid or weak setting; exit 1 if any")
def _check_config(args: argparse.Namespace) -> int:
    modes = tuple(args.modes) or MODES
    try:
        lines = problems(load_settings(), modes)
    except ConfigError as error:
        lines = error.lines
    for line in lines:
        print(line, file=sys.stderr)
    if lines:
        print(f"{len(lines)} problem(s) for {', '.join(modes)}", file=sys.stderr)
    return 1 if lines else 0


@command("create-user", "create a user; a user of that name already there is left unchanged")
def _create_user(args: argparse.Namespace) -> int:
    from semantik.shared.db import session_scope
    from semantik.shared.errors import SemantikError
    from semantik.shared.services import users

    require("migrate")
    with session_scope() as session:
        if users.find(session, args.username) is not None:
            # Idempotent for the deployment, which runs this on every converge: no password change.
            print(f"user {args.username} exists; unchanged")
            return 0
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    if len(password) < 8:
        print("password must be at least 8 characters", file=sys.stderr)
        return 1
    try:
        with session_scope() as session:
            user = users.create(
                session,
                username=args.username,
                email=args.email,
                password=password,
                full_name=args.full_name,
                is_superuser=args.superuser,
            )
            print(f"created user {user.username} (id {user.id}{', superuser' if user.is_superuser else ''})")
    except SemantikError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


@command("list-users", "list the users: id, name, email, active, administrator")
def _list_users(_: argparse.Namespace) -> int:
    from sqlalchemy import select

    from semantik.shared.db import session_scope
    from semantik.shared.models import User

    require("migrate")
    with session_scope() as session:
        for user in session.scalars(select(User).order_by(User.id)):
            state = "active" if user.is_active else "inactive"
            role = "superuser" if user.is_superuser else "user"
            print(f"{user.id}\t{user.username}\t{user.email}\t{state}\t{role}")
    return 0


@command("deactivate-user", "deactivate a user: its tokens and API keys stop working at once")
def _deactivate_user(args: argparse.Namespace) -> int:
    from semantik.shared.db import session_scope
    from semantik.shared.services import users
    from semantik.shared.services.auth_state import AuthState

    settings = require("migrate")
    state = AuthState.from_settings(settings) if settings.redis_url else None
    with session_scope() as session:
        user = users.find(session, args.username)
        if user is None:
            print(f"no user {args.username}", file=sys.stderr)
            return 1
        user.is_active = False
        users.end_sessions(session, user, state)
    print(f"deactivated user {args.username}")
    return 0


def _mode(value: str) -> str:
    # Checked here, not by `choices`: with nargs="*", argparse also checks the empty default against
    # them and refuses a plain `check-config` (Python 3.11).
    if value not in MODES:
        raise argparse.ArgumentTypeError(f"invalid mode {value!r} (choose from {', '.join(MODES)})")
    return value


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="semantik", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in COMMANDS.items():
        sub.add_parser(name, help=help_text)
    check = sub.choices["check-config"]
    check.add_argument(
        "modes", nargs="*", type=_mode, metavar="MODE", help=f"{', '.join(MODES)} (default: all)"
    )
    migrate = sub.choices["migrate"]
    migrate.add_argument(
        "--to", default="head", metavar="REVISION", help="a revision, head, base or -N (N steps down)"
    )
    migrate.add_argument(
        "--force", action="store_true", help="go below the schema this code is written for (a rollback)"
    )
    user = sub.choices["create-user"]
    user.add_argument("username")
    user.add_argument("email")
    user.add_argument("--full-name")
    user.add_argument("--superuser", action="store_true")
    user.add_argument("--password-stdin", action="store_true")
    sub.choices["deactivate-user"].add_argument("username")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
