"""``xtalk-server``: serve the assistant over HTTP and WebSocket (headless).

Serving::

    xtalk-server [--config FILE] [--host 127.0.0.1] [--port 8765] [--database URL]
                 [--lan] [--allowed-origin URL ...]
                 [--tls-cert FILE --tls-key FILE | --tls-self-signed]
                 [--max-frame-bytes N] [--max-messages-per-s R] [--idle-timeout S]
                 [--max-sessions-per-user N] [--max-upload-bytes N]

The server binds to 127.0.0.1 by default; there, with no users in the store, no login is
needed (the single-user desktop case). ``--lan`` binds every interface (0.0.0.0) and
requires a login for everything; it refuses to start until a user exists. Users::

    xtalk-server user add NAME [--password PW | password on stdin / prompt] [--admin]
    xtalk-server user list
    xtalk-server user delete NAME
    xtalk-server pairing-code NAME        # a one-time code to pair a phone

``--tls-self-signed`` generates a certificate once (valid for localhost, the loopback
addresses and the LAN address), keeps it in the user data directory and prints its SHA-256
fingerprint, so a phone's browser can use the microphone over https. The limit flags
override the ``service_config`` keys of the same name (``docs/protocol.md``, "Limits").

The database is ``--database URL``, else ``$XTALK_DATABASE_URL``, else SQLite in the user
data directory.

Every option can also come from a settings file (``--settings FILE``, TOML or JSON, or
``$XTALK_SETTINGS``) and from ``XTALK_<OPTION>`` environment variables; flags win over
the environment, which wins over the file (:mod:`xtalk.server_settings`). ``/healthz`` and
``/readyz`` are always served; ``--metrics`` adds Prometheus metrics at ``/metrics``
(docs/deployment.md). At start-up the server logs which language model it answers with
(endpoint and model, never the API key), or that none was found and the offline agent
answers.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from xtalk.registry import ConfigError
from xtalk.resource_paths import default_config_path, web_client_dir

DEFAULT_CONFIG = default_config_path()
LAN_HOST = "0.0.0.0"
EXIT_USAGE = 2


def build_app(config: str | Path | dict | Any, *, store: Any = None, auth: Any = None,
              metrics: bool = False):
    """A FastAPI app with the login, session, upload and session WebSocket routes.

    Args:
        config: A configuration (file or dict) or a ready :class:`~xtalk.Xtalk`.
        store: The store to use (default: see ``Xtalk.mount_routes``).
        auth: :class:`~xtalk.serving.http.auth.AuthSettings` (with ``store``).
        metrics: Serve Prometheus metrics at ``/metrics`` (see
            :mod:`xtalk.serving.http.metrics`).
    """
    from fastapi import FastAPI

    from xtalk.api import Xtalk

    if isinstance(config, Xtalk):
        xtalk = config
    else:
        xtalk = Xtalk.from_config(config if isinstance(config, dict) else str(config))
    app = FastAPI(title="Xtalk", version="0.1.0",
                  description="Local-first voice assistant: login, sessions, documents "
                              "and the session WebSocket (see docs/protocol.md).")
    app.state.xtalk = xtalk
    if store is not None:
        xtalk.attach_store(store, auth=auth)
    xtalk.mount_routes(app)

    from xtalk.serving.http.health import mount_health

    mount_health(app, xtalk)
    if metrics:
        from xtalk.serving.http.metrics import mount_metrics

        mount_metrics(app, xtalk, store=xtalk.store, settings=xtalk.auth_settings)

    _mount_web_client(app)  # last: the routes above take precedence over "/"
    return app


WEB_CLIENT_DIR = web_client_dir()
WEB_CLIENT_CSP = (b"default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; "
                  b"img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                  b"frame-ancestors 'none'")


def _mount_web_client(app: Any, directory: Path = WEB_CLIENT_DIR) -> None:
    """Serve the browser client (``resources/web``) at ``/`` with a Content-Security-Policy.

    WebSocket requests for unknown paths are refused instead of reaching the static files.
    """
    if not directory.is_dir():
        return
    from starlette.staticfiles import StaticFiles

    static = StaticFiles(directory=directory, html=True)

    async def web_client(scope, receive, send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return

        async def send_with_csp(message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers") or ()
                           if k.lower() != b"content-security-policy"]
                headers.append((b"content-security-policy", WEB_CLIENT_CSP))
                message = {**message, "headers": headers}
            await send(message)

        await static(scope, receive, send_with_csp)

    app.mount("/", web_client, name="web_client")


def _database_url(args: argparse.Namespace) -> str | None:
    # apply_settings has already filled args.database from $XTALK_DATABASE_URL.
    return getattr(args, "database", None) or None


def _open_store(args: argparse.Namespace):
    from xtalk.store import Store

    return Store.open(_database_url(args))


def _read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return args.password
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat password: "):
            raise ValueError("the passwords do not match")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _database_problem(exc: BaseException) -> str:
    """What went wrong with the database, in words (the driver's message when there is
    one; never the URL's password, which SQLAlchemy does not put in its messages)."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"xtalk-server: {message}", file=sys.stderr)
    return code


# --------------------------------------------------------------------------- subcommands
def cmd_user(args: argparse.Namespace) -> int:
    from xtalk.store import UserExistsError

    with _open_store(args) as store:
        if args.user_command == "add":
            try:
                password = _read_password(args)
                user = store.users.create_user(args.name, password, is_admin=args.admin)
            except UserExistsError:
                return _fail(f"user {args.name!r} already exists", 1)
            except (ValueError, TypeError) as exc:
                return _fail(str(exc), 1)
            print(f"created user {user.username!r} (id {user.id}"
                  f"{', admin' if user.is_admin else ''})")
            return 0
        if args.user_command == "list":
            users = store.users.list_users()
            if not users:
                print("no users (create one with: xtalk-server user add NAME)")
            for user in users:
                print(f"{user.id}\t{user.username}\t{'admin' if user.is_admin else 'user'}\t"
                      f"{user.created_at:%Y-%m-%d %H:%M}")
            return 0
        if args.user_command == "delete":
            user = store.users.get_user_by_name(args.name)
            if user is None or not store.users.delete_user(user):
                return _fail(f"no user {args.name!r}", 1)
            print(f"deleted user {args.name!r} with their sessions")
            return 0
    return _fail("unknown user command")


def cmd_pairing_code(args: argparse.Namespace) -> int:
    with _open_store(args) as store:
        user = store.users.get_user_by_name(args.name)
        if user is None:
            return _fail(f"no user {args.name!r} (create one with: xtalk-server user add "
                         f"{args.name})", 1)
        code = store.users.rotate_pairing_code(user, ttl=args.ttl_minutes * 60)
    print(code)
    print(f"pairing code for {user.username!r}, valid once for {args.ttl_minutes:g} minutes",
          file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from xtalk.serving.http.auth import AuthSettings, is_loopback_host, lan_address

    host = LAN_HOST if args.lan else args.host
    lan = args.lan or not is_loopback_host(host)
    try:
        auth = AuthSettings(lan=lan, allowed_origins=tuple(args.allowed_origin or ()),
                            **({"max_upload_bytes": args.max_upload_bytes}
                               if args.max_upload_bytes else {}))
    except ValueError as exc:
        return _fail(str(exc))
    if bool(args.tls_cert) != bool(args.tls_key):
        return _fail("--tls-cert and --tls-key go together")
    if args.tls_self_signed and args.tls_cert:
        return _fail("--tls-self-signed and --tls-cert/--tls-key exclude each other")
    try:
        from xtalk.api import Xtalk
        from xtalk.serving.wire.limits import LIMIT_KEYS, ConnectionLimits

        xtalk = Xtalk.from_config(str(args.config))
        service = xtalk.service_prototype
        # The limits: the configuration's, with those given as flags (the parser has some
        # of LIMIT_KEYS) on top, parsed once here and used by the routes and every session.
        limits = ConnectionLimits.from_config({
            **service.service_config,
            **{key: value for key in LIMIT_KEYS
               if (value := getattr(args, key, None)) is not None}})
        service.connection_limits = limits
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}")
    except ValueError as exc:
        return _fail(str(exc))
    tls_cert, tls_key = args.tls_cert, args.tls_key
    if args.tls_self_signed:
        from xtalk.serving.http.tls import ensure_self_signed

        hosts = [h for h in (host, lan_address() if lan else None) if h]
        try:
            cert = ensure_self_signed(args.tls_dir, hosts=tuple(hosts))
        except OSError as exc:
            return _fail(f"cannot store the TLS certificate: {exc}", 1)
        tls_cert, tls_key = str(cert.cert_path), str(cert.key_path)
        print(f"xtalk-server: {'generated' if cert.created else 'using'} self-signed TLS "
              f"certificate {cert.cert_path} for {', '.join(cert.hosts)}\n"
              f"xtalk-server: certificate SHA-256 fingerprint {cert.fingerprint}",
              file=sys.stderr, flush=True)
    try:
        store = _open_store(args)
    except Exception as exc:
        return _fail(f"cannot open the database: {_database_problem(exc)}", 1)
    if lan and not store.users.has_users():
        store.close()
        return _fail(
            f"refusing to listen on {host}: LAN mode requires authentication, and the "
            "store has no users.\nCreate one first:  xtalk-server user add NAME"
            f"{' --database ' + args.database if args.database else ''}")
    app = build_app(xtalk, store=store, auth=auth, metrics=args.metrics)
    announce_language_model(xtalk)
    import uvicorn

    print(f"xtalk-server: {'LAN mode, login required; ' if lan else ''}"
          f"listening on {'https' if tls_cert else 'http'}://{host}:{args.port} "
          f"(database {store.database.url})", file=sys.stderr)
    try:
        uvicorn.run(app, host=host, port=args.port, log_level=args.log_level,
                    ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                    ws_max_size=limits.hard_frame_bytes,
                    ws_per_message_deflate=False)  # PCM barely compresses; saves CPU
    finally:
        store.close()
    return 0


def language_model_line(agent: Any) -> str:
    """Which language model ``agent`` answers with, for the log (never the API key).

    Resolves the agent's endpoint (blocking: probing local ports, building the client).
    """
    if agent is None:
        return "language model: none (the configuration has no agent)"
    description = agent.describe_endpoint()
    if getattr(agent, "connected", True):
        return f"language model: {description}"
    return ("language model: none found (no endpoint configured, no OPENAI_API_KEY, no "
            "local Ollama / llama.cpp / LM Studio server answered); the offline agent "
            "answers time, date and help")


def announce_language_model(xtalk: Any) -> threading.Thread:
    """Log once, at start-up, the language model the server uses (see
    :func:`language_model_line`). The agent's endpoint is resolved in a background
    thread, so the port opens at once; sessions then find it resolved."""
    logger = logging.getLogger("xtalk.server")

    def run() -> None:
        try:
            line = language_model_line(xtalk.service_prototype.pipeline.get_agent())
        except Exception as exc:  # the first session resolves again and reports it
            logger.warning("cannot resolve the language model: %s", type(exc).__name__)
            return
        logger.info("%s", line)

    thread = threading.Thread(target=run, name="xtalk-llm-announce", daemon=True)
    thread.start()
    return thread


# --------------------------------------------------------------------------- parsing
def build_parser() -> argparse.ArgumentParser:
    from xtalk.store.database import DATABASE_URL_ENV

    parser = argparse.ArgumentParser(
        prog="xtalk-server", description="Serve the Xtalk voice assistant (HTTP + WebSocket).",
        epilog="Without a command the server runs. Commands: user add|list|delete, "
               "pairing-code NAME.")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="pipeline configuration (JSON, Xtalk.from_config format)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1; a non-loopback address "
                             "means LAN mode)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--lan", action="store_true",
                        help="listen on all interfaces (0.0.0.0); login required; refuses to "
                             "start while the store has no users")
    parser.add_argument("--database", metavar="URL", default=None,
                        help=f"store database URL (default: ${DATABASE_URL_ENV}, else SQLite "
                             "in the user data directory)")
    parser.add_argument("--allowed-origin", metavar="URL", action="append", default=[],
                        help="a browser origin allowed besides the server's own (repeatable)")
    parser.add_argument("--max-upload-bytes", type=int, default=None,
                        help="largest uploaded document (default 5 MB)")
    parser.add_argument("--tls-cert", metavar="FILE", default=None, help="TLS certificate")
    parser.add_argument("--tls-key", metavar="FILE", default=None, help="TLS private key")
    parser.add_argument("--tls-self-signed", action="store_true",
                        help="serve https/wss with a generated self-signed certificate "
                             "(kept in the user data directory; its fingerprint is printed)")
    parser.add_argument("--tls-dir", metavar="DIR", type=Path, default=None,
                        help="where --tls-self-signed keeps its certificate (default: "
                             "<user data dir>/tls)")
    parser.add_argument("--max-frame-bytes", type=int, default=None,
                        help="largest WebSocket audio frame (default 65536)")
    parser.add_argument("--max-messages-per-s", type=float, default=None,
                        help="sustained WebSocket messages per second per connection "
                             "(default 200)")
    parser.add_argument("--idle-timeout", dest="idle_timeout_s", type=float, default=None,
                        help="close a connection silent for this many seconds (default 600)")
    parser.add_argument("--max-sessions-per-user", type=int, default=None,
                        help="concurrent sessions of one user (default 8)")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--metrics", action="store_true",
                        help="serve Prometheus metrics at /metrics (admin token when login "
                             "is on)")
    parser.add_argument("--settings", metavar="FILE", default=None,
                        help="settings file (TOML or JSON; default: $XTALK_SETTINGS); "
                             "XTALK_<OPTION> variables override it, flags override both")

    # Subcommands also accept --database after the command name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database", metavar="URL", default=argparse.SUPPRESS,
                        help="store database URL")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    user = commands.add_parser("user", help="manage users", parents=[common])
    user_commands = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = user_commands.add_parser("add", help="create a user", parents=[common])
    add.add_argument("name")
    add.add_argument("--password", default=None,
                     help="the password (default: prompt, or one line from stdin)")
    add.add_argument("--admin", action="store_true")
    user_commands.add_parser("list", help="list users", parents=[common])
    delete = user_commands.add_parser("delete", help="delete a user and their sessions",
                                      parents=[common])
    delete.add_argument("name")
    pairing = commands.add_parser("pairing-code", parents=[common],
                                  help="print a fresh one-time pairing code for a user")
    pairing.add_argument("name")
    pairing.add_argument("--ttl-minutes", type=float, default=10.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from xtalk.server_settings import SettingsError, apply_settings, describe

    try:
        resolved = apply_settings(parser, args, argv)
    except SettingsError as exc:
        return _fail(str(exc))
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("xtalk.server").info("%s", describe(args, resolved))
    if args.command in ("user", "pairing-code"):
        from sqlalchemy.exc import SQLAlchemyError

        from xtalk.store import StoreError

        command = cmd_user if args.command == "user" else cmd_pairing_code
        try:
            return command(args)
        except (SQLAlchemyError, StoreError) as exc:
            return _fail(f"database error: {_database_problem(exc)}", 1)
    return cmd_serve(args)


if __name__ == "__main__":
    sys.exit(main())
