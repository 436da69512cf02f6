"""A throwaway PostgreSQL cluster from the installed ``initdb`` / ``pg_ctl`` (tests and bench).

As root it runs the server as the ``postgres`` user, since ``initdb`` refuses to run as root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayPostgres:
    def __init__(self, directory: Path | None = None) -> None:
        """A new cluster in a temporary folder, or the one kept in ``directory`` (created if absent)."""
        self.keep = directory is not None
        self.dir = directory or Path(tempfile.mkdtemp(prefix="pw-pg-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("initdb / pg_ctl not found (install postgresql)")
        data = self.dir / "data"
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
            os.chmod(self.dir, 0o755)
        if not (data / "PG_VERSION").exists():
            self._run(initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        self._run(
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-F -p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60 "
            "-c shared_buffers=256MB -c work_mem=32MB",
            "start",
        )
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        pg_ctl = _pg_bin("pg_ctl")
        if pg_ctl:
            with contextlib.suppress(subprocess.SubprocessError):
                self._run(pg_ctl, "-D", str(self.dir / "data"), "-m", "immediate", "stop")
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
