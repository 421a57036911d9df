"""A throw-away PostgreSQL server for the store tests.

``pg_cluster`` (session): ``initdb`` into a fresh directory under /tmp, then ``pg_ctl start`` listening
only on a Unix socket in that directory (no TCP; the port, a free one, just names the socket), trust
authentication for the one superuser ``nagar``, stopped and deleted at the end. Never the machine's own
PostgreSQL service. As root, the server runs as the ``postgres`` OS user (``runuser``) because
PostgreSQL refuses to run as root. Skipped, with the reason, when the server binaries are absent
(set ``NAGAR_PG_BINDIR`` to the directory holding ``initdb`` and ``pg_ctl`` if they are elsewhere).

``pg_url`` (function): a fresh, empty schema for one test in the session's database (the URL sets
``search_path`` to it), dropped afterwards: creating and dropping a database costs a forced checkpoint
each (~0.3-1 s with fsync on), a schema almost nothing. ``pg_db_url`` (function): a new database of its
own (``public`` schema, as a default deployment has), for the tests where that matters.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def _find_bindir() -> str | None:
    candidates = [os.environ.get("NAGAR_PG_BINDIR", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += sorted(glob.glob("/usr/pgsql-*/bin"), reverse=True)
    which = shutil.which("pg_ctl")
    if which:
        candidates.append(os.path.dirname(which))
    for d in candidates:
        if d and all(os.access(os.path.join(d, exe), os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class PgCluster:
    """One initdb'd data directory and its server."""

    user = "nagar"

    def __init__(self, bindir: str):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="nagar-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self._names = itertools.count(1)
        if self.as_root:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}\n"
                               f"{self.log.read_text()[-3000:] if self.log.exists() else ''}")
        return res

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-locale",
                  "--no-sync")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(
                "\n# nagar test server\n"
                "listen_addresses = ''\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.dir}'\n"
                "max_connections = 100\n"
                "shared_buffers = 32MB\n"
                "fsync = on\n"
                "synchronous_commit = on\n"
                "log_min_messages = warning\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60", check=False)

    def crash(self) -> None:
        """SIGKILL the postmaster and every server process: no shutdown checkpoint, only the WAL remains."""
        pid_file = self.data / "postmaster.pid"
        pid = int(pid_file.read_text().split()[0])
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(stat.split("/")[2]))
        for p in [pid, *children]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in [pid, *children]):
            if time.monotonic() > deadline:
                raise RuntimeError("server processes survived SIGKILL")
            time.sleep(0.05)
        # the processes are gone, or are zombies nobody reaps (some container inits do not), which would
        # make the lock files look taken: remove them, as an administrator would after a crash
        pid_file.unlink(missing_ok=True)
        (self.dir / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def url(self, dbname: str, schema: str | None = None) -> str:
        url = f"host={self.dir} port={self.port} user={self.user} dbname={dbname}"
        return url + (f" options='-c search_path={schema}'" if schema else "")

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(sql)

    def create_db(self) -> str:
        name = f"nagar_t{next(self._names)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE template0")
        return name

    shared_db = "nagar_tests"

    def create_schema(self) -> str:
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.url(self.shared_db), autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {name}")
        return name

    def drop_schema(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(self.shared_db), autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")

    def destroy(self) -> None:
        self.stop("immediate")  # no shutdown checkpoint: the data directory is deleted next
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    bindir = _find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "
                    "install postgresql or set NAGAR_PG_BINDIR")
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' OS user to run the server as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser(1) is missing")
    cluster = PgCluster(bindir)
    try:
        cluster.init()
        cluster.start()
        cluster.admin(f"CREATE DATABASE {cluster.shared_db} TEMPLATE template0")
    except BaseException:
        cluster.destroy()
        raise
    yield cluster
    cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster):
    schema = pg_cluster.create_schema()
    yield pg_cluster.url(pg_cluster.shared_db, schema)
    pg_cluster.drop_schema(schema)


@pytest.fixture
def pg_db_url(pg_cluster):
    # not dropped: DROP DATABASE forces a checkpoint (seconds on a busy disk); the cluster goes at the end
    yield pg_cluster.url(pg_cluster.create_db())
