"""A throwaway PostgreSQL cluster: initdb into a temp dir, run by pg_ctl.

Used by the test suite's fixtures (tests/conftest.py) and by the benchmarks
(benchmarks/run.py). The cluster listens on 127.0.0.1 on a free port, lets the
``postgres`` superuser in without a password, and is stopped and deleted by
``stop()`` (registered with atexit too). When run as root, every server binary
runs as the ``postgres`` OS user (``initdb`` refuses root).
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

NO_DISCOVERY_ENV = "FULLCACHE_TEST_NO_POSTGRES_DISCOVERY"

SUPERUSER = "postgres"
DRIVER = "postgresql+psycopg2"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class _ThrowawayCluster:
    """An initdb'd cluster in a temp dir, run by pg_ctl; see start() and stop()."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.tmpdir: Optional[Path] = None
        self.port: Optional[int] = None
        self.running = False
        # As root, every server binary has to run as the postgres OS user.
        self.run_as: list[str] = []
        self.owner: Optional[pwd.struct_passwd] = None

    @property
    def datadir(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        assert self.tmpdir is not None
        return self.tmpdir / "server.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.run_as, *args],
            cwd=self.tmpdir,  # the postgres user may not be able to enter our cwd
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def start(self) -> URL:
        if os.geteuid() == 0:
            try:
                self.owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root, and initdb refuses root, but there is no 'postgres' "
                    "OS user to run the throwaway cluster as"
                ) from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root, but runuser(1) is missing")
            self.run_as = [runuser, "-u", "postgres", "--"]

        self.tmpdir = Path(tempfile.mkdtemp(prefix="fullcache-pg-", dir=_temp_base()))
        if self.owner is not None:
            os.chown(self.tmpdir, self.owner.pw_uid, self.owner.pw_gid)
        atexit.register(self.stop)  # in case pytest dies before the session teardown

        done = self._run(
            str(self.bindir / "initdb"),
            "-D", str(self.datadir),
            "-U", SUPERUSER,
            "-A", "trust",  # replaced by our pg_hba.conf below
            "-E", "UTF8",
            "--locale=C",
            "-N",  # no fsync of the new cluster
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{done.stdout.strip()}")

        # Written by root into postgres-owned files: the owner and mode stay.
        (self.datadir / "pg_hba.conf").write_text(
            "# TYPE  DATABASE  USER      ADDRESS        METHOD\n"
            f"local   all       {SUPERUSER}                 trust\n"
            f"host    all       {SUPERUSER}  127.0.0.1/32   trust\n"
            "local   all       all                      scram-sha-256\n"
            "host    all       all       127.0.0.1/32   scram-sha-256\n"
        )
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# fullcache test settings: fast and disposable\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.tmpdir}'\n"
                "password_encryption = 'scram-sha-256'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "wal_level = minimal\n"
                "max_wal_senders = 0\n"
                "max_connections = 100\n"
                "shared_buffers = 32MB\n"
                "checkpoint_timeout = 1h\n"
                "max_wal_size = 1GB\n"
                "logging_collector = off\n"
            )

        # A free port can be taken by someone else (e.g. a concurrent pytest run)
        # between our probe and the server's bind: then retry with another.
        for _attempt in range(5):
            self.port = _free_port()
            done = self._run(
                str(self.bindir / "pg_ctl"),
                "-D", str(self.datadir),
                "-l", str(self.logfile),
                "-o", f"-p {self.port}",
                "-w", "-t", "60",
                "start",
            )
            if done.returncode == 0:
                self.running = True
                return URL.create(
                    DRIVER, username=SUPERUSER, host="127.0.0.1", port=self.port,
                    database="postgres",
                )
            log = self._log_tail()
            if "could not bind" not in log and "already in use" not in log:
                break
        raise RuntimeError(
            f"pg_ctl start failed ({done.returncode}):\n{done.stdout.strip()}\n"
            f"server log:\n{log}"
        )

    def stop(self) -> None:
        if self.tmpdir is None:
            return
        if self.running:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir),
                      "-m", "immediate", "-w", "stop")
            self.running = False
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None


def create_database(admin: URL, name: str) -> str:
    """Create the database ``name`` on the server ``admin`` connects to;
    its URL, with the password (a throwaway cluster's)."""
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
    finally:
        engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _temp_base() -> str:
    """A parent for the cluster's temp dir.

    The postgres OS user must be able to reach it, and the unix socket path
    (<dir>/.s.PGSQL.<port>) must fit in ~107 bytes; a TMPDIR inside /root or a
    very long one fails either, so fall back to /tmp.
    """
    base = tempfile.gettempdir()
    if len(base) > 60:
        return "/tmp"
    if os.geteuid() == 0:
        path = Path(base).resolve()
        for part in [path, *path.parents]:
            if not os.stat(part).st_mode & 0o001:  # not world-traversable
                return "/tmp"
    return base


def _pg_version(bindir: Path) -> tuple[int, ...]:
    match = re.fullmatch(r"\d+(?:\.\d+)*", bindir.parent.name)
    return tuple(int(n) for n in match.group().split(".")) if match else ()


def find_postgres_bindir() -> Optional[Path]:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's layout."""
    if _env_flag(NO_DISCOVERY_ENV):
        return None
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        # Resolve symlinks (e.g. /usr/local/bin/initdb -> .../15/bin/initdb) so
        # that pg_ctl is looked for next to the real initdb.
        candidates.append(Path(on_path).resolve().parent)
        candidates.append(Path(on_path).parent)
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_pg_version, reverse=True)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl")):
            return bindir
    return None
