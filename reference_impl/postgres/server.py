"""Where the PostgreSQL backend's databases live: a server from a DSN, or a throwaway cluster.

With ``STORECHECK_PG_DSN`` (or ``--store-dsn``, which sets it) every location
is a schema in one database this run creates on that server and drops at the
end.  Without it, a cluster is started from the installed server binaries:
``initdb`` into a temporary directory, a free port on 127.0.0.1, durability
switches off (the checks kill client processes, never the server), run as the
``postgres`` user when this process is root because the server refuses root.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from storecheck.reference_impl.postgres.backend import DSN_VARIABLE

BINARIES_VARIABLE = "STORECHECK_PG_BIN"
_SEARCH_DIRS = ("/usr/lib/postgresql",)
# Settings for a cluster that exists for one test run: nothing must survive an
# OS crash, and the concurrency checks open many connections at once.
_THROWAWAY_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "64MB",
    "log_min_messages": "fatal",
    # Checks load a data set and query it at once: planner statistics must follow fast.
    "autovacuum_naptime": "1s",
}


class ServerUnavailable(RuntimeError):
    """No DSN was given and no PostgreSQL server binaries were found or could start."""


@dataclass
class RunDatabase:
    """The database this run made on a server; each location is a schema in it."""

    admin_conninfo: str
    conninfo: str
    name: str
    cluster: ThrowawayCluster | None = None

    def new_schema(self, prefix: str) -> str:
        schema = f"{prefix}_{secrets.token_hex(6)}"
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        return schema

    def drop_schema(self, schema: str) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            # A store left open in a transaction would make the drop wait forever; fail instead.
            conn.execute("SET lock_timeout = '30s'")
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

    def close(self) -> None:
        try:
            with psycopg.connect(self.admin_conninfo, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                             .format(sql.Identifier(self.name)))
        except psycopg.Error:
            pass  # the server may already be gone; a throwaway cluster is removed anyway
        if self.cluster is not None:
            self.cluster.stop()


def location_conninfo(conninfo: str, schema: str) -> str:
    """A connection string whose sessions see only ``schema`` (via ``search_path``)."""
    return make_conninfo(conninfo, options=f"-c search_path={schema}")


def schema_of(location: str) -> str:
    options = str(conninfo_to_dict(location).get("options", ""))
    prefix = "-c search_path="
    if not options.startswith(prefix):
        raise ValueError("not a storecheck PostgreSQL location (no search_path option)")
    return options[len(prefix):]


def find_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: $STORECHECK_PG_BIN, PATH, or
    the newest version under /usr/lib/postgresql."""
    configured = os.environ.get(BINARIES_VARIABLE)
    if configured:
        return Path(configured) if (Path(configured) / "initdb").exists() else None
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = []
    for root in map(Path, _SEARCH_DIRS):
        if root.is_dir():
            candidates += [d / "bin" for d in root.iterdir() if (d / "bin" / "initdb").exists()]
    return max(candidates, key=lambda d: _version_key(d.parent.name), default=None)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary directory, stopped and removed by :meth:`stop`."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.directory = Path(tempfile.mkdtemp(prefix="storecheck-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        # The server refuses to run as root: then it runs as (and is owned by) postgres.
        self._run_as = "postgres" if os.geteuid() == 0 else None
        self.user = self._run_as or getpass.getuser()
        self._started = False

    @property
    def conninfo(self) -> str:
        return make_conninfo(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")

    def start(self) -> None:
        if self._run_as is not None:
            shutil.chown(self.directory, self._run_as)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--encoding=UTF8",
                  "--locale=C", "--no-sync", "-U", self.user)
        options = " ".join(f"-c {key}={value}" for key, value in _THROWAWAY_SETTINGS.items())
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l",
                  str(self.directory / "server.log"), "-o",
                  f"-p {self.port} -k {self.directory} {options}", "start")
        self._started = True

    def stop(self) -> None:
        if self._started:
            self._started = False
            # Even if the stop fails, removing the directory below is what matters.
            with contextlib.suppress(ServerUnavailable):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([str(self.binaries / program), *args], capture_output=True,
                              text=True, user=self._run_as, cwd=self.directory, check=False)
        if done.returncode != 0:
            log = self.directory / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ServerUnavailable(f"{program} failed ({done.returncode}): "
                                    f"{done.stderr.strip() or done.stdout.strip()}\n{tail}")



_lock = threading.Lock()
_run_database: RunDatabase | None = None
_failure: str | None = None


def run_database() -> RunDatabase:
    """This process's run database, made (and its server started) on first use."""
    global _run_database, _failure
    with _lock:
        if _run_database is not None:
            return _run_database
        if _failure is not None:
            raise ServerUnavailable(_failure)
        try:
            _run_database = _make_run_database()
        except ServerUnavailable as exc:
            _failure = str(exc)
            raise
        atexit.register(_run_database.close)
        return _run_database


def _make_run_database() -> RunDatabase:
    dsn = os.environ.get(DSN_VARIABLE)
    cluster = None
    if not dsn:
        binaries = find_binaries()
        if binaries is None:
            raise ServerUnavailable(
                f"no PostgreSQL: set {DSN_VARIABLE} (or --store-dsn) to a server, or install "
                "the server binaries (Debian/Ubuntu: apt-get install postgresql) so a "
                "throwaway cluster can be started")
        cluster = ThrowawayCluster(binaries)
        try:
            cluster.start()
        except BaseException:
            cluster.stop()
            raise
        dsn = cluster.conninfo
    name = f"storecheck_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            # Byte order for text (SQLite's BINARY collation) and UTF-8, whatever the
            # server's defaults; the schema pins "C" per column as well.
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' "
                                 "LC_COLLATE 'C' LC_CTYPE 'C'").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        if cluster is not None:
            cluster.stop()
        raise ServerUnavailable(f"cannot create a database on the PostgreSQL server "
                                f"({_redacted(dsn)}): {exc}") from exc
    return RunDatabase(dsn, make_conninfo(dsn, dbname=name), name, cluster)


def _redacted(dsn: str) -> str:
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "unparsable DSN"
    parts.pop("password", None)
    return make_conninfo("", **{k: v for k, v in parts.items() if v is not None})
