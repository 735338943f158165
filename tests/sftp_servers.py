"""Real SFTP servers for the transport tests, registered as pytest fixtures.

* ``sshd``: OpenSSH's ``/usr/sbin/sshd`` on 127.0.0.1 with its own config, host key and
  authorized keys, all in a temporary folder (session-scoped; each test gets its own remote dir).
* ``fault_server``: an in-process asyncssh SFTP server, in a thread with its own event loop,
  whose ``faults`` inject dropped connections, slow writes, a full disk and denied writes.

Test modules load this file with ``pytest_plugins = ["tests.sftp_servers"]``.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import getpass
import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest

SSHD = Path("/usr/sbin/sshd")
PASSPHRASE = "correct horse battery staple"


@dataclass(frozen=True)
class KeyPair:
    """A private key file (OpenSSH format) and its ``authorized_keys`` line."""

    private: Path
    public_line: str


def make_key(path: Path, passphrase: str | None = None) -> KeyPair:
    """A fresh ed25519 client key written to ``path``."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=path.name)
    with warnings.catch_warnings():  # few KDF rounds keep decryption fast: test keys only
        warnings.filterwarnings("ignore", ".*bcrypt.kdf", UserWarning)
        key.write_private_key(path, passphrase=passphrase, rounds=4)
    path.chmod(0o600)
    return KeyPair(path, key.export_public_key().decode().strip())


def public_line(key: asyncssh.SSHKey) -> str:
    """``ssh-ed25519 AAAA…`` without the comment."""
    return " ".join(key.export_public_key().decode().split()[:2])


def fingerprint(public_line: str) -> str:
    """``ssh-ed25519 SHA256:…`` computed the way OpenSSH does, from the key blob."""
    kind, blob = public_line.split()[:2]
    digest = base64.b64encode(hashlib.sha256(base64.b64decode(blob)).digest()).decode()
    return f"{kind} SHA256:{digest.rstrip('=')}"


def known_hosts_line(port: int, host_public_line: str) -> str:
    """The known_hosts entry pinning a host key for 127.0.0.1 on a non-22 port."""
    return f"[127.0.0.1]:{port} {host_public_line}\n"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, alive: Any, log: Path, timeout: float = 10.0) -> None:
    """Return once 127.0.0.1:port accepts connections; fail with the server log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            break
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    pytest.fail(f"sshd did not start on port {port}:\n{log.read_text()}")


@dataclass
class Sshd:
    """A running OpenSSH server."""

    port: int
    host_public_line: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def start_sshd(folder: Path, authorized: list[str], sftp_args: str = "") -> Sshd:
    """Start ``sshd -D -e`` with a config, host key and authorized keys inside ``folder``."""
    if not SSHD.is_file():
        pytest.fail(f"{SSHD} is missing: run `make sysdeps` (installs openssh-server)")
    folder.mkdir(parents=True, exist_ok=True)
    host_key = folder / "ssh_host_ed25519_key"
    keygen = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
    subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    (folder / "authorized_keys").write_text("".join(line + "\n" for line in authorized))
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"PidFile {folder / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "UseDNS no\n"
        "LogLevel ERROR\n"
        f"Subsystem sftp internal-sftp {sftp_args}\n"
    )
    log = folder / "sshd.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)], stderr=out)
    try:
        wait_for_port(port, lambda: proc.poll() is None, log)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    host_line = " ".join(host_key.with_suffix(".pub").read_text().split()[:2])
    return Sshd(port, host_line, proc, log)


@dataclass
class Faults:
    """What the fault server does wrong; tests change these between pushes."""

    drop_after_bytes: int | None = None  # abort a connection once it has written this much
    drops: int = 1  # how many connections get dropped that way
    write_delay: float = 0.0  # seconds each write request waits before it is served
    disk_full_after_bytes: int | None = None  # writes past this fail with ENOSPC
    read_only: bool = False  # opening for write, removing and renaming fail with EACCES
    posix_rename: bool = True  # False: the server neither advertises nor serves posix-rename
    renames_allowed: int | None = None  # posix-renames after this many fail with EACCES
    listed_as: dict[str, str] = field(default_factory=dict)  # a listing lies: real → shown name


@dataclass
class FaultServer:
    """An asyncssh SFTP server chrooted to ``root``; its remote_dir is ``/``."""

    root: Path
    authorized: list[str]
    faults: Faults = field(default_factory=Faults)
    host_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519")
    )
    writes_opened: list[str] = field(default_factory=list)  # every path opened for writing
    port: int = 0

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._acceptor = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = self._acceptor.get_port()

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys("\n".join(self.authorized)),
            sftp_factory=lambda chan: _FaultSFTP(chan, self),
            allow_scp=False,
        )

    def stop(self) -> None:
        async def close() -> None:
            self._acceptor.close()
            await self._acceptor.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def host_public_line(self) -> str:
        return public_line(self.host_key)


class _FaultSFTP(asyncssh.SFTPServer):
    """One SFTP session of the fault server."""

    def __init__(self, chan: asyncssh.SSHServerChannel, server: FaultServer) -> None:
        super().__init__(chan, chroot=bytes(server.root))
        self._server = server
        self._written = 0
        self._dropped = False

    def _deny(self) -> None:
        if self._server.faults.read_only:
            raise PermissionError(errno.EACCES, "Permission denied")

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & asyncssh.FXF_WRITE:
            self._server.writes_opened.append(path.decode())
            self._deny()
        return super().open(path, pflags, attrs)

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        faults = self._server.faults
        if faults.write_delay:
            await asyncio.sleep(faults.write_delay)
        self._written += len(data)
        full = faults.disk_full_after_bytes
        if full is not None and self._written > full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        drop = faults.drop_after_bytes
        if self._dropped or (drop is not None and self._written > drop and faults.drops > 0):
            if not self._dropped:
                self._dropped = True
                faults.drops -= 1
                self.connection.abort()
            raise asyncssh.SFTPConnectionLost("dropped on purpose")
        return int(await _maybe(super().write(file_obj, offset, data)))

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        lies = {k.encode(): v.encode() for k, v in self._server.faults.listed_as.items()}
        async for entry in super().scandir(path):
            if isinstance(entry.filename, bytes) and entry.filename in lies:
                entry.filename = lies[entry.filename]
            yield entry

    def remove(self, path: bytes) -> Any:
        self._deny()
        return super().remove(path)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> Any:
        if not self._server.faults.posix_rename:
            raise asyncssh.SFTPOpUnsupported("posix-rename not supported")
        self._deny()
        allowed = self._server.faults.renames_allowed
        if allowed is not None:
            if allowed <= 0:
                raise PermissionError(errno.EACCES, "Permission denied")
            self._server.faults.renames_allowed = allowed - 1
        return super().posix_rename(oldpath, newpath)


async def _maybe(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """The client key every server authorizes."""
    return make_key(tmp_path_factory.mktemp("keys") / "id_ed25519")


@pytest.fixture(scope="session")
def encrypted_client_key(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """A passphrase-protected client key (``PASSPHRASE``) that sshd authorizes."""
    return make_key(tmp_path_factory.mktemp("keys") / "id_ed25519_enc", passphrase=PASSPHRASE)


@pytest.fixture(scope="session")
def sshd(
    tmp_path_factory: pytest.TempPathFactory, client_key: KeyPair, encrypted_client_key: KeyPair
) -> Iterator[Sshd]:
    """OpenSSH sshd on 127.0.0.1 (internal-sftp), shared by the session."""
    server = start_sshd(
        tmp_path_factory.mktemp("sshd"), [client_key.public_line, encrypted_client_key.public_line]
    )
    yield server
    server.stop()


@pytest.fixture
def fault_server(tmp_path: Path, client_key: KeyPair) -> Iterator[FaultServer]:
    """A fresh asyncssh server whose ``faults`` a test sets; its files live in ``root``."""
    root = tmp_path / "fault-root"
    root.mkdir()
    server = FaultServer(root, [client_key.public_line])
    server.start()
    yield server
    server.stop()


def current_user() -> str:
    """The local user the servers let in (sshd logs in as this user)."""
    return getpass.getuser()


def hide_posix_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make asyncssh servers stop advertising posix-rename (set ``faults.posix_rename`` too)."""
    handler = asyncssh.sftp.SFTPServerHandler
    kept = [ext for ext in handler._extensions if ext[0] != b"posix-rename@openssh.com"]
    monkeypatch.setattr(handler, "_extensions", kept)


def bundle_files(tag: str, students: int) -> dict[str, bytes]:
    """A small, deterministic bundle whose bytes depend on ``tag`` (CRLF, UTF-8, non-ASCII)."""
    rows = "".join(f"SCH-1,S-{i:06d},Zoë-{tag},Ångström,{i % 12 + 1}\r\n" for i in range(students))
    return {
        "schools.csv": f"School_id,School_name,School_number\r\nSCH-1,Maple {tag},1\r\n".encode(),
        "students.csv": ("School_id,Student_id,First_name,Last_name,Grade\r\n" + rows).encode(),
        "teachers.csv": f"School_id,Teacher_id,First_name,Last_name\nSCH-1,T-1,A,{tag}\n".encode(),
        "sections.csv": f"School_id,Section_id,Teacher_id,Name\nSCH-1,SEC-1,T-1,{tag}\n".encode(),
        "enrollments.csv": b"School_id,Section_id,Student_id\nSCH-1,SEC-1,S-000001\n",
    }


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def folder_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file directly in ``folder``, by name (what a remote dir holds)."""
    return {p.name: sha256_of(p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()}


def digests(files: dict[str, bytes]) -> dict[str, str]:
    return {name: sha256_of(data) for name, data in sorted(files.items())}
