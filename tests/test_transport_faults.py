"""Push against an asyncssh SFTP server that misbehaves on purpose.

After every fault the remote folder must hold one complete bundle, old or new, never a mix
(except where a rename burst itself was cut, which the error then says), and no ``*.part``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.sftp_servers")

from rosterlab.errors import (  # noqa: E402
    AuthenticationError,
    ConnectionLostError,
    HostKeyChangedError,
    HostKeyUnknownError,
    PosixRenameUnsupportedError,
    RemoteDiskFullError,
    RemotePermissionError,
    TransportError,
)
from rosterlab.transport import Target, pull_bundle, push_bundle  # noqa: E402
from tests.sftp_servers import (  # noqa: E402
    FaultServer,
    KeyPair,
    bundle_files,
    current_user,
    digests,
    fingerprint,
    folder_digests,
    hide_posix_rename,
    known_hosts_line,
    make_key,
    write_files,
)

pytest_plugins = ["tests.sftp_servers"]

OLD = bundle_files("old", 2_000)
NEW = bundle_files("new", 6_000)  # students.csv ≈ 250 kB: transfers take many write requests
PARTS = [f"/{name}.part" for name in NEW]


def fault_target(
    tmp_path: Path, server: FaultServer, key: Path, host_line: str | None = None, **kw: float
) -> Target:
    """A target for the fault server (remote_dir ``/`` is its root) pinning its host key."""
    known_hosts = tmp_path / "known_hosts"
    pinned = server.host_public_line if host_line is None else host_line
    known_hosts.write_text(known_hosts_line(server.port, pinned) if pinned else "")
    return Target("f", "127.0.0.1", current_user(), known_hosts, server.port, key, **kw)


@pytest.fixture
def setup(tmp_path: Path, fault_server: FaultServer, client_key: KeyPair) -> tuple[Target, Path]:
    """The fault server holding the OLD bundle, a target for it, and the NEW bundle folder."""
    write_files(fault_server.root, OLD)
    return (
        fault_target(tmp_path, fault_server, client_key.private),
        write_files(tmp_path / "bundle", NEW),
    )


def test_connection_dropped_mid_upload_is_retried(
    fault_server: FaultServer, setup: tuple[Target, Path]
) -> None:
    target, bundle = setup
    fault_server.faults.drop_after_bytes = 100_000  # inside students.csv, the second file
    fault_server.faults.drops = 1
    result = push_bundle(target, bundle, backoff=0)
    assert result.attempts == 2
    assert folder_digests(fault_server.root) == digests(NEW)
    assert fault_server.writes_opened == PARTS[:2] + PARTS


def test_retries_back_off_exponentially(
    fault_server: FaultServer, setup: tuple[Target, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    target, bundle = setup
    fault_server.faults.drop_after_bytes = 100_000
    fault_server.faults.drops = 3
    waits: list[float] = []
    monkeypatch.setattr("rosterlab.transport.push.time.sleep", waits.append)
    result = push_bundle(target, bundle, retries=3, backoff=0.5)
    assert result.attempts == 4
    assert waits == [0.5, 1.0, 2.0]
    assert folder_digests(fault_server.root) == digests(NEW)


def test_connection_lost_for_good_keeps_the_old_bundle_then_a_rerun_succeeds(
    fault_server: FaultServer, setup: tuple[Target, Path]
) -> None:
    target, bundle = setup
    fault_server.faults.drop_after_bytes = 100_000
    fault_server.faults.drops = 2
    with pytest.raises(ConnectionLostError) as err:
        push_bundle(target, bundle, retries=1, backoff=0)
    assert str(err.value) == (
        f"connection to 127.0.0.1:{target.port} lost while uploading students.csv; gave up after "
        "2 attempt(s): the remote still holds its previous files: re-run push once it is "
        "reachable"
    )
    # The parts the dead connections left were removed over a fresh one.
    assert folder_digests(fault_server.root) == digests(OLD)

    result = push_bundle(target, bundle, retries=0)
    assert result.attempts == 1
    assert folder_digests(fault_server.root) == digests(NEW)


def test_slow_writes_still_arrive_whole(
    fault_server: FaultServer, setup: tuple[Target, Path]
) -> None:
    target, bundle = setup
    fault_server.faults.write_delay = 0.002
    seen: dict[str, list[int]] = {}

    def progress(name: str, done: int, total: int) -> None:
        seen.setdefault(name, []).append(done)

    result = push_bundle(target, bundle, progress=progress)
    assert result.attempts == 1
    assert folder_digests(fault_server.root) == digests(NEW)
    for name, data in NEW.items():
        assert seen[name] == sorted(seen[name])
        assert seen[name][-1] == len(data)


def test_a_stalled_server_times_out(
    tmp_path: Path, fault_server: FaultServer, client_key: KeyPair
) -> None:
    write_files(fault_server.root, OLD)
    target = fault_target(tmp_path, fault_server, client_key.private, timeout=0.2)
    fault_server.faults.write_delay = 5.0
    with pytest.raises(ConnectionLostError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW), retries=0)
    assert str(err.value) == (
        f"no answer from 127.0.0.1:{target.port} for 0.2 s while uploading schools.csv; gave up "
        "after 1 attempt(s): the remote still holds its previous files: re-run push once it is "
        "reachable"
    )
    assert folder_digests(fault_server.root) == digests(OLD)


def test_disk_full(fault_server: FaultServer, setup: tuple[Target, Path]) -> None:
    target, bundle = setup
    fault_server.faults.disk_full_after_bytes = 100_000
    with pytest.raises(RemoteDiskFullError) as err:
        push_bundle(target, bundle, backoff=0)
    assert str(err.value) == (
        f"remote disk full on 127.0.0.1:{target.port} while uploading students.csv (server said: "
        "No space left on device): free space or quota on the server, then re-run"
    )
    assert folder_digests(fault_server.root) == digests(OLD)
    assert fault_server.writes_opened == PARTS[:2]  # not retried


def test_permission_denied(fault_server: FaultServer, setup: tuple[Target, Path]) -> None:
    target, bundle = setup
    fault_server.faults.read_only = True
    with pytest.raises(RemotePermissionError) as err:
        push_bundle(target, bundle)
    assert str(err.value) == (
        f"permission denied by 127.0.0.1:{target.port} while uploading schools.csv "
        "(/schools.csv.part): ask the provider for access to /, or fix remote_dir of [targets.f]"
    )
    assert folder_digests(fault_server.root) == digests(OLD)


def test_rename_refused_before_any_rename(
    fault_server: FaultServer, setup: tuple[Target, Path]
) -> None:
    target, bundle = setup
    fault_server.faults.renames_allowed = 0
    with pytest.raises(RemotePermissionError) as err:
        push_bundle(target, bundle)
    assert str(err.value) == (
        f"permission denied by 127.0.0.1:{target.port} while renaming schools.csv.part to "
        "schools.csv (/schools.csv.part): ask the provider for access to /, or fix remote_dir of "
        "[targets.f]"
    )
    assert folder_digests(fault_server.root) == digests(OLD)


def test_rename_burst_cut_midway_says_the_remote_is_mixed(
    fault_server: FaultServer, setup: tuple[Target, Path]
) -> None:
    target, bundle = setup
    fault_server.faults.renames_allowed = 2
    with pytest.raises(RemotePermissionError) as err:
        push_bundle(target, bundle)
    assert str(err.value) == (
        f"permission denied by 127.0.0.1:{target.port} while renaming teachers.csv.part to "
        "teachers.csv (/teachers.csv.part): ask the provider for access to /, or fix remote_dir "
        "of [targets.f]; 2 of 5 files were already replaced, so the remote holds a mix of old "
        "and new files: fix this, then re-run push"
    )
    mixed = {**OLD, "schools.csv": NEW["schools.csv"], "students.csv": NEW["students.csv"]}
    assert folder_digests(fault_server.root) == digests(mixed)  # and no *.part left


def test_no_posix_rename_uploads_nothing(
    fault_server: FaultServer, setup: tuple[Target, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    target, bundle = setup
    hide_posix_rename(monkeypatch)
    fault_server.faults.posix_rename = False
    with pytest.raises(PosixRenameUnsupportedError) as err:
        push_bundle(target, bundle)
    assert str(err.value) == (
        f"127.0.0.1:{target.port} does not support posix-rename (posix-rename@openssh.com), so "
        "the bundle cannot be swapped in safely: nothing was uploaded; ask the provider to "
        "enable it or push to a server that has it"
    )
    assert fault_server.writes_opened == []
    assert folder_digests(fault_server.root) == digests(OLD)


def test_changed_host_key(tmp_path: Path, fault_server: FaultServer, client_key: KeyPair) -> None:
    write_files(fault_server.root, OLD)
    other = make_key(tmp_path / "other").public_line
    target = fault_target(tmp_path, fault_server, client_key.private, host_line=other)
    with pytest.raises(HostKeyChangedError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW))
    served = "ssh-ed25519 " + fault_server.host_key.get_fingerprint("sha256")
    assert str(err.value) == (
        f"host key of 127.0.0.1:{target.port} changed: the server sent {served} but "
        f"{target.known_hosts} pins {fingerprint(other)}; possible man-in-the-middle: do not "
        "push, confirm the new key with the SFTP provider before changing that file"
    )
    assert fault_server.writes_opened == []


def test_unknown_host_key_push_and_pull(
    tmp_path: Path, fault_server: FaultServer, client_key: KeyPair
) -> None:
    write_files(fault_server.root, OLD)
    target = fault_target(tmp_path, fault_server, client_key.private, host_line="")
    with pytest.raises(HostKeyUnknownError):
        push_bundle(target, write_files(tmp_path / "bundle", NEW))
    with pytest.raises(HostKeyUnknownError):
        pull_bundle(target, tmp_path / "pulled")
    assert fault_server.writes_opened == []
    assert not (tmp_path / "pulled").exists()


def test_authentication_refused(tmp_path: Path, fault_server: FaultServer) -> None:
    stranger = make_key(tmp_path / "stranger")
    target = fault_target(tmp_path, fault_server, stranger.private)
    with pytest.raises(AuthenticationError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW))
    assert str(err.value) == (
        f"authentication refused by 127.0.0.1:{target.port} for user {current_user()!r}: check "
        "username, key_file and password_env of [targets.f] and that the provider has your "
        "public key"
    )
    assert fault_server.writes_opened == []


def test_a_server_listing_a_name_with_a_slash_is_refused(
    tmp_path: Path, fault_server: FaultServer, setup: tuple[Target, Path]
) -> None:
    """A lying server lists ``students./x``: it cannot be a file name here; nothing is pulled."""
    target, _ = setup
    fault_server.faults.listed_as = {"students.csv": "students./x"}
    with pytest.raises(TransportError) as err:
        pull_bundle(target, tmp_path / "pulled")
    assert str(err.value) == (
        f"127.0.0.1:{fault_server.port} lists a file named 'students./x' in /, which cannot be "
        "a file name: nothing was pulled; ask the provider to check the server"
    )
    assert not (tmp_path / "pulled").exists()
