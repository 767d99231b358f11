"""A throw-away PostgreSQL server on loopback for tests (Debian ``postgresql``).

:func:`start_postgres` runs ``initdb`` in a fresh temporary directory and ``pg_ctl start``
with the server listening on 127.0.0.1 only (a free port, its Unix socket in the same
directory), password authentication (scram-sha-256) for every connection, and
``fsync=off`` (test data only). As root the server runs as the ``postgres`` user (it
refuses to run as root). :class:`PostgresUnavailable` says why it could not start, for
a clear skip message.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "postgres"
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started here (the message says why)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bindir() -> Path:
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(os.path.realpath(pg_ctl)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit()
                        else 0)
    if not candidates:
        raise PostgresUnavailable("PostgreSQL is not installed (no pg_ctl on PATH or in "
                                  "/usr/lib/postgresql/*/bin; Debian package `postgresql`)")
    return Path(candidates[-1]).parent


class PostgresCluster:
    """A running test server; :meth:`create_database` gives a fresh database URL."""

    def __init__(self, root: Path, bindir: Path, port: int, password: str,
                 run_as: str | None) -> None:
        self.root, self.bindir, self.port = root, bindir, port
        self.password, self.run_as = password, run_as
        self.data = root / "data"
        self.log = root / "server.log"
        self._counter = 0

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        result = subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True,
                                text=True, timeout=timeout, user=self.run_as, cwd=self.root)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(f"{args[0]} failed ({result.returncode}): "
                                      f"{(result.stderr or result.stdout).strip()}\n{log}")

    def url(self, database: str = "postgres") -> str:
        return (f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/"
                f"{database}")

    def _admin(self):
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                               password=self.password, dbname="postgres", autocommit=True,
                               connect_timeout=10)

    def create_database(self, prefix: str = "xtalk_test") -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            for path in (self.root, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o700)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-E", "UTF8",
                  "--locale=C", "--auth=scram-sha-256", f"--pwfile={pwfile}")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", str(START_TIMEOUT_S), "-o", options, "start",
                  timeout=START_TIMEOUT_S + 10)

    def stop(self) -> None:
        with contextlib.suppress(PostgresUnavailable, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PostgresCluster:
    """Start a server (see the module docstring).

    Raises:
        PostgresUnavailable: PostgreSQL is missing, psycopg is missing, or the server
            did not start (with its log).
    """
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PostgresUnavailable(
            f"psycopg is not installed ({exc}); pip install 'psycopg[binary]'") from exc
    bindir = _bindir()
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError as exc:
            raise PostgresUnavailable("running as root and there is no `postgres` user "
                                      "to run the server as") from exc
        run_as = SUPERUSER
    root = Path(tempfile.mkdtemp(prefix="xtalk-pg-"))
    cluster = PostgresCluster(root, bindir, _free_port(), secrets.token_urlsafe(12), run_as)
    try:
        cluster.start()
    except (PostgresUnavailable, OSError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        if isinstance(exc, PostgresUnavailable):
            raise
        raise PostgresUnavailable(f"PostgreSQL did not start: {exc}") from exc
    return cluster
