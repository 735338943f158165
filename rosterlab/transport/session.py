"""One SSH/SFTP session to a target: pinned host keys only, credentials, and error mapping.

Every paramiko/socket failure leaves this module as a RosterlabError with one actionable line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import paramiko
from paramiko.message import Message
from paramiko.sftp import (
    CMD_EXTENDED,
    CMD_HANDLE,
    CMD_INIT,
    CMD_OPEN,
    CMD_STATUS,
    CMD_VERSION,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
    int64,
)

from rosterlab.errors import (
    AuthenticationError,
    ConfigError,
    ConnectionLostError,
    HostKeyChangedError,
    HostKeyUnknownError,
    HostUnreachableError,
    RemoteDiskFullError,
    RemotePermissionError,
    RosterlabError,
    TransportError,
)
from rosterlab.transport.target import Target

POSIX_RENAME = "posix-rename@openssh.com"
KEYRING_SERVICE = "rosterlab"
_SFTP_VERSION = 3
_DISK_FULL_WORDS = ("no space", "disk full", "quota")
_CHUNK = 32768  # bytes per SFTP write request, as paramiko's putfo


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def fingerprint(key: paramiko.PKey) -> str:
    """``ssh-ed25519 SHA256:…``: a host key as OpenSSH shows it."""
    return f"{key.get_name()} {key.fingerprint}"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "no details"


class _PinnedKeysOnly(paramiko.RejectPolicy):
    """RejectPolicy whose refusal says which key was offered and where to pin it."""

    def __init__(self, target: Target) -> None:
        self._target = target

    def missing_host_key(self, client: Any, hostname: str, key: paramiko.PKey) -> None:
        raise HostKeyUnknownError(
            f"host key of {hostname} ({fingerprint(key)}) is not pinned in "
            f"{self._target.known_hosts}: confirm this fingerprint with the SFTP provider, "
            "then add the key to that file"
        )


class _UploadFile(paramiko.SFTPFile):
    """A remote file being uploaded with pipelined writes whose every reply is checked.

    paramiko's own pipelined writes (``putfo``) register no owner for their replies, so a
    refused write (disk full, quota) is silently dropped. Here the file owns each reply: the
    first error is raised at the next write or at close, and close waits for all replies.
    """

    def _write(self, data: bytes) -> int:
        self._check_exception()
        chunk = min(len(data), self.MAX_REQUEST_SIZE)
        self.sftp._async_request(self, CMD_WRITE, self.handle, int64(self._realpos), data[:chunk])
        while self.sftp.sock.recv_ready():
            self.sftp._read_response()
        return int(chunk)

    def close(self) -> None:
        try:
            self.sftp._finish_responses(self)
        except Exception as exc:
            if not isinstance(exc, TimeoutError):  # a stalled server is not waited for again
                super().close()
            raise
        super().close()


class _Replies:
    """Collects the status replies of pipelined requests: None when done, else the OSError."""

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self._sftp = sftp
        self.got: dict[int, OSError | None] = {}

    def _async_response(self, kind: int, msg: Message, num: int) -> None:
        try:
            if kind != CMD_STATUS:
                raise OSError(f"unexpected reply type {kind}")
            self._sftp._convert_status(msg)
            self.got[num] = None
        except OSError as exc:
            self.got[num] = exc
        except EOFError as exc:
            self.got[num] = OSError(str(exc))


class _SFTPClient(paramiko.SFTPClient):
    """An SFTPClient that keeps the server's advertised extensions and checks every write."""

    extensions: frozenset[str]

    def upload(self, reader: _Readable, path: str, size: int, callback: Any) -> None:
        """Copy ``reader`` to ``path`` (created or truncated); ``callback(done, size)``."""
        flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | SFTP_FLAG_TRUNC
        kind, msg = self._request(CMD_OPEN, path, flags, paramiko.SFTPAttributes())
        if kind != CMD_HANDLE:
            raise paramiko.SSHException("Expected handle")
        done = 0
        with _UploadFile(self, msg.get_binary(), "wb") as remote:
            while data := reader.read(_CHUNK):
                remote.write(data)
                done += len(data)
                callback(done, size)

    def rename_all(self, renames: Sequence[tuple[str, str]]) -> list[OSError | None]:
        """posix-rename every ``(old, new)`` pair in one burst; each rename's error or None.

        All requests leave in a single write (one SSH packet when the channel window allows),
        so a client killed during the burst has sent every rename or none; the server makes them
        in order, and may stop after any of them if the client died (seen with OpenSSH's
        sftp-server). The replies are read afterwards.
        """
        replies = _Replies(self)
        numbers = []
        out = []
        with self._lock:
            for old, new in renames:
                msg = Message()
                msg.add_int(self.request_number)
                msg.add_string(POSIX_RENAME)
                msg.add_string(self._adjust_cwd(old))
                msg.add_string(self._adjust_cwd(new))
                body = msg.asbytes()
                out.append(struct.pack(">I", len(body) + 1) + bytes([CMD_EXTENDED]) + body)
                numbers.append(self.request_number)
                self._expecting[self.request_number] = replies
                self.request_number += 1
        self._write_all(b"".join(out))
        while len(replies.got) < len(numbers):
            self._read_response()
        return [replies.got[n] for n in numbers]

    def _send_version(self) -> int:
        init = Message()
        init.add_int(_SFTP_VERSION)
        self._send_packet(CMD_INIT, init)
        kind, data = self._read_packet()
        if kind != CMD_VERSION:
            raise paramiko.SSHException("Incompatible sftp protocol")
        msg = Message(data)
        version = int(msg.get_int())
        names = set()
        while msg.get_remainder():
            names.add(msg.get_text())
            msg.get_binary()
        self.extensions = frozenset(names)
        return version


def _keyring_secret(target: Target) -> str | None:
    """The secret stored with ``keyring set rosterlab TARGET``, when keyring is installed."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        secret = keyring.get_password(KEYRING_SERVICE, target.name)
    except keyring.errors.KeyringError:
        return None
    return secret if isinstance(secret, str) else None


def target_secret(target: Target) -> str | None:
    """Password / key passphrase: from ``password_env`` if named, else the keyring, else none."""
    if target.password_env is None:
        return _keyring_secret(target)
    value = os.environ.get(target.password_env)
    if value is None:
        raise ConfigError(
            f"environment variable {target.password_env} (password_env of [targets.{target.name}])"
            " is not set: export it before running"
        )
    return value


def _check_files(t: Target) -> None:
    where = f"[targets.{t.name}]"
    if not t.known_hosts.is_file():
        raise ConfigError(
            f"known_hosts file {t.known_hosts} of {where} not found: create it with the "
            "server's host key, checked against the fingerprint the provider gives you"
        )
    if t.key_file is not None and not t.key_file.is_file():
        raise ConfigError(f"key_file {t.key_file} of {where} not found: fix key_file")


def _load_known_hosts(t: Target, keys: paramiko.HostKeys) -> None:
    where = f"[targets.{t.name}]"
    try:
        keys.load(str(t.known_hosts))
    except paramiko.hostkeys.InvalidHostKey as exc:
        raise ConfigError(
            f"known_hosts file {t.known_hosts} of {where} has an invalid line ({exc.line!r}):"
            " fix or remove it"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"known_hosts file {t.known_hosts} of {where} cannot be read ({exc}): fix it"
        ) from exc


def check_credentials(t: Target) -> tuple[str, ...]:
    """What a dry run can check without connecting: ``known_hosts`` exists, parses and pins
    the target's host; ``key_file`` (if set) exists and parses (with the target's secret, if
    encrypted). Returns one line per file checked; a problem is a ConfigError."""
    where = f"[targets.{t.name}]"
    _check_files(t)
    keys = paramiko.HostKeys()
    _load_known_hosts(t, keys)
    host = t.host if t.port == 22 else f"[{t.host}]:{t.port}"
    pinned = keys.lookup(host)
    if not pinned:
        raise ConfigError(
            f"known_hosts file {t.known_hosts} of {where} pins no key for {host}: add the "
            "server's host key, checked against the fingerprint the provider gives you"
        )
    lines = [
        f"known_hosts {t.known_hosts}: pins {host} ("
        + ", ".join(fingerprint(pinned[kind]) for kind in sorted(pinned.keys()))
        + ")"
    ]
    if t.key_file is not None:
        key = _read_key(t, t.key_file, target_secret(t))
        lines.append(f"key_file {t.key_file}: reads as {fingerprint(key)}")
    return tuple(lines)


def _read_key(t: Target, path: Path, secret: str | None) -> paramiko.PKey:
    """The private key in ``path``; an encrypted one opened with ``secret`` (its passphrase).

    An unencrypted key is read as it is: the secret, if any, is then the server's password.
    """
    where = f"[targets.{t.name}]"
    try:
        return paramiko.PKey.from_path(path)
    except (TypeError, paramiko.PasswordRequiredException):
        pass  # encrypted ("Key is password-protected, but password was not provided.")
    except (paramiko.SSHException, OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"key_file {path} of {where} is not a private key paramiko can read "
            f"({_one_line(str(exc)) or type(exc).__name__}): fix key_file"
        ) from exc
    if secret is None:
        raise ConfigError(
            f"key_file {path} of {where} is encrypted: set password_env to a variable holding "
            f"its passphrase (or store it with: keyring set {KEYRING_SERVICE} {t.name})"
        )
    try:
        return paramiko.PKey.from_path(path, password=secret.encode())
    except (TypeError, paramiko.SSHException, ValueError) as exc:
        source = (
            f"in {t.password_env} (password_env)"
            if t.password_env is not None
            else f"stored with keyring for {t.name}"
        )
        raise ConfigError(
            f"key_file {path} of {where} does not open with the passphrase {source}: "
            "set the key's passphrase there"
        ) from exc


class Session:
    """An authenticated SFTP session; a context manager that always closes the connection."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._client = paramiko.SSHClient()
        self.sftp: _SFTPClient | None = None
        self._stalled = False

    def __enter__(self) -> Session:
        try:
            self._connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the SFTP channel and the SSH connection (idempotent)."""
        if self.sftp is not None:
            with contextlib.suppress(Exception):
                self.sftp.close()
        self._client.close()

    @property
    def client(self) -> _SFTPClient:
        """The open SFTP client."""
        if self.sftp is None:
            raise TransportError(f"no open session to {self.target.address}: connect first")
        return self.sftp

    @property
    def alive(self) -> bool:
        """Whether the connection can still carry requests (cleanup is worth trying on it)."""
        transport = self._client.get_transport()
        return bool(
            not self._stalled
            and transport is not None
            and transport.is_active()
            and self.sftp is not None
            and not self.sftp.get_channel().closed
        )

    def _connect(self) -> None:
        t = self.target
        _check_files(t)
        secret = target_secret(t)
        _load_known_hosts(t, self._client.get_host_keys())
        self._client.set_missing_host_key_policy(_PinnedKeysOnly(t))
        key = _read_key(t, t.key_file, secret) if t.key_file is not None else None
        try:
            self._client.connect(
                t.host,
                port=t.port,
                username=t.username,
                password=secret,
                pkey=key,
                timeout=t.timeout,
                banner_timeout=t.timeout,
                auth_timeout=t.timeout,
                channel_timeout=t.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
            self.sftp = _SFTPClient.from_transport(self._client.get_transport())
            self.client.get_channel().settimeout(t.timeout)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._connect_error(exc) from exc

    def _connect_error(self, exc: BaseException) -> RosterlabError:
        t = self.target
        where = f"[targets.{t.name}]"
        if isinstance(exc, paramiko.BadHostKeyException):
            return HostKeyChangedError(
                f"host key of {t.address} changed: the server sent {fingerprint(exc.key)} but "
                f"{t.known_hosts} pins {fingerprint(exc.expected_key)}; possible "
                "man-in-the-middle: do not push, confirm the new key with the SFTP provider "
                "before changing that file"
            )
        if isinstance(exc, paramiko.AuthenticationException):
            return AuthenticationError(
                f"authentication refused by {t.address} for user {t.username!r}: check username, "
                f"key_file and password_env of {where} and that the provider has your public key"
            )
        if isinstance(exc, socket.gaierror):
            return HostUnreachableError(f"cannot resolve host {t.host!r}: fix host in {where}")
        if isinstance(exc, TimeoutError):
            return HostUnreachableError(
                f"cannot connect to {t.address} (no answer for {t.timeout:g} s): check host and "
                f"port of {where} and the network"
            )
        if isinstance(exc, OSError) and self._client.get_transport() is None:
            return HostUnreachableError(
                f"cannot connect to {t.address} (connection refused or no route): check host and "
                f"port of {where} and that the server is up"
            )
        return ConnectionLostError(
            f"connection to {t.address} lost while connecting ({_one_line(str(exc))})"
        )

    @contextlib.contextmanager
    def guard(self, doing: str, path: str) -> Iterator[None]:
        """Turn a failure of the wrapped SFTP calls into one actionable RosterlabError."""
        try:
            yield
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._operation_error(exc, doing, path) from exc

    def _operation_error(self, exc: BaseException, doing: str, path: str) -> RosterlabError:
        t = self.target
        if isinstance(exc, TimeoutError):
            self._stalled = True
            return ConnectionLostError(
                f"no answer from {t.address} for {t.timeout:g} s while {doing}"
            )
        if not self.alive or not isinstance(exc, OSError) or isinstance(exc, ConnectionError):
            return ConnectionLostError(f"connection to {t.address} lost while {doing}")
        text = _one_line(exc.strerror or str(exc))
        if exc.errno in (errno.EACCES, errno.EPERM):
            return RemotePermissionError(
                f"permission denied by {t.address} while {doing} ({path}): ask the provider for "
                f"access to {t.remote_dir}, or fix remote_dir of [targets.{t.name}]"
            )
        if exc.errno == errno.ENOENT:
            return TransportError(
                f"{path} does not exist on {t.address}: check remote_dir of [targets.{t.name}]"
            )
        if any(word in text.casefold() for word in _DISK_FULL_WORDS):
            return RemoteDiskFullError(
                f"remote disk full on {t.address} while {doing} (server said: {text}): free space "
                "or quota on the server, then re-run"
            )
        return TransportError(
            f"{t.address} failed while {doing} (server said: {text}): if the remote disk may be "
            "full, free space there; otherwise re-run, and ask the provider if it repeats"
        )

    def listdir(self) -> list[paramiko.SFTPAttributes]:
        """Entries (with attributes) of the target's remote_dir."""
        remote_dir = self.target.remote_dir
        with self.guard(f"listing {remote_dir}", remote_dir):
            return list(self.client.listdir_attr(remote_dir))

    def remove_quietly(self, paths: list[str]) -> None:
        """Best-effort removal (cleanup after a failure): errors are ignored."""
        for path in paths:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self.client.remove(path)
