"""Transport against a real OpenSSH sshd: targets, plans, dry runs, push/pull, host keys, auth."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import sys
import types
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.sftp_servers")

from rosterlab.config import Limits, Settings, load_settings  # noqa: E402
from rosterlab.errors import (  # noqa: E402
    AuthenticationError,
    BundleError,
    ConfigError,
    HostKeyChangedError,
    HostKeyUnknownError,
    HostUnreachableError,
    PosixRenameUnsupportedError,
    TransportError,
)
from rosterlab.transport import (  # noqa: E402
    PlannedFile,
    Target,
    check_credentials,
    load_target,
    plan_push,
    pull_bundle,
    push_bundle,
)
from tests.sftp_servers import (  # noqa: E402
    PASSPHRASE,
    KeyPair,
    Sshd,
    bundle_files,
    current_user,
    digests,
    fingerprint,
    folder_digests,
    free_port,
    known_hosts_line,
    make_key,
    start_sshd,
    write_files,
)

pytest_plugins = ["tests.sftp_servers"]

OLD = bundle_files("old", 50)
NEW = bundle_files("new", 80)
STAFF = b"Staff_id\n1\n"


def expected_bundle_sha(files: dict[str, bytes]) -> str:
    lines = "".join(f"{n}\0{hashlib.sha256(d).hexdigest()}\n" for n, d in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def make_target(
    tmp_path: Path, port: int, host_line: str | None, key: Path | None, **changes: object
) -> Target:
    """A target for 127.0.0.1:port whose known_hosts pins ``host_line`` (empty file if None)."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(known_hosts_line(port, host_line) if host_line else "")
    remote = tmp_path / "remote"
    remote.mkdir(exist_ok=True)
    target = Target(
        "t", "127.0.0.1", current_user(), known_hosts, port, key_file=key, remote_dir=str(remote)
    )
    return dataclasses.replace(target, **changes)  # type: ignore[arg-type]


@pytest.fixture
def target(tmp_path: Path, sshd: Sshd, client_key: KeyPair) -> Target:
    return make_target(tmp_path, sshd.port, sshd.host_public_line, client_key.private)


def remote_dir(target: Target) -> Path:
    return Path(target.remote_dir)


# --- targets ---------------------------------------------------------------------------------


def settings(targets: dict[str, dict[str, object]]) -> Settings:
    return Settings(store=Path("x.duckdb"), config_path=None, targets=targets)


def test_load_target_from_toml(tmp_path: Path) -> None:
    config = tmp_path / "rosterlab.toml"
    config.write_text(
        "[targets.clever-maple]\n"
        'host = "sftp.example.org"\n'
        'username = "maple-district"\n'
        'key_file = "/keys/clever_maple"\n'
        'known_hosts = "/keys/known_hosts_clever"\n'
        'password_env = "CLEVER_MAPLE_PASSWORD"\n'
        "\n[targets.minimal]\n"
        'host = "h"\nusername = "u"\nknown_hosts = "kh"\nport = 2222\ntimeout = 5\n'
    )
    loaded = load_settings(store=None, config=str(config))
    assert load_target(loaded, "clever-maple") == Target(
        name="clever-maple",
        host="sftp.example.org",
        username="maple-district",
        known_hosts=Path("/keys/known_hosts_clever"),
        port=22,
        key_file=Path("/keys/clever_maple"),
        remote_dir="/",
        password_env="CLEVER_MAPLE_PASSWORD",
        timeout=30.0,
    )
    assert load_target(loaded, "minimal") == Target(
        "minimal", "h", "u", Path("kh"), port=2222, timeout=5.0
    )


def test_unknown_target_lists_the_configured_ones() -> None:
    s = settings({"b": {}, "a": {}})
    with pytest.raises(ConfigError) as err:
        load_target(s, "c")
    assert (
        str(err.value) == "unknown target 'c' (configured: a, b): add [targets.c] to rosterlab.toml"
    )
    with pytest.raises(ConfigError) as err:
        load_target(settings({}), "c")
    assert str(err.value) == (
        "unknown target 'c' (configured: none): add [targets.c] to rosterlab.toml"
    )


BASE = {"host": "h", "username": "u", "known_hosts": "kh"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {**BASE, "password": "hunter2"},
            "[targets.t]: password must not be written in rosterlab.toml: remove it and set "
            'password_env = "VARIABLE" naming an environment variable that holds it',
        ),
        (
            {**BASE, "passphrase": "hunter2"},
            "[targets.t]: passphrase must not be written in rosterlab.toml: remove it and set "
            'password_env = "VARIABLE" naming an environment variable that holds it',
        ),
        (
            {"host": "h", "username": "u"},
            '[targets.t]: known_hosts is required: add known_hosts = "..." to the table',
        ),
        ({**BASE, "username": ""}, "[targets.t]: username must be a non-empty string"),
        ({**BASE, "port": 0}, "[targets.t]: port must be a whole number between 1 and 65535"),
        ({**BASE, "port": "22"}, "[targets.t]: port must be a whole number between 1 and 65535"),
        ({**BASE, "timeout": 0}, "[targets.t]: timeout must be a positive number of seconds"),
        (
            {**BASE, "hostname": "h"},
            "[targets.t]: unknown key(s) hostname; allowed: host, port, username, key_file, "
            "known_hosts, remote_dir, password_env, timeout",
        ),
    ],
)
def test_target_validation(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_target(settings({"t": table}), "t")
    assert str(err.value) == message


# --- plan and dry run ------------------------------------------------------------------------


def test_plan_lists_spec_files_skips_the_rest(tmp_path: Path) -> None:
    files = {n: d for n, d in NEW.items() if n != "enrollments.csv"}
    bundle = write_files(tmp_path / "bundle", {**files, "Students.csv": b"x", "notes.txt": b"y"})
    (bundle / "sub").mkdir()
    (bundle / "sub" / "enrollments.csv").write_bytes(b"z")
    target = Target("t", "h", "u", Path("kh"), remote_dir="/drop")
    plan = plan_push(target, bundle)
    assert plan.files == tuple(
        PlannedFile(
            name=n,
            size=len(files[n]),
            sha256=hashlib.sha256(files[n]).hexdigest(),
            local_path=bundle / n,
            remote_path=f"/drop/{n}",
        )
        for n in ("schools.csv", "students.csv", "teachers.csv", "sections.csv")
    )
    assert plan.files[0].part_path == "/drop/schools.csv.part"
    assert plan.skipped == ("Students.csv", "notes.txt", "sub")
    assert plan.missing == ("enrollments.csv",)
    assert plan.bundle_sha256 == expected_bundle_sha(files)
    assert plan.total_bytes == sum(len(d) for d in files.values())


def test_plan_needs_spec_files(tmp_path: Path) -> None:
    target = Target("t", "h", "u", Path("kh"))
    empty = write_files(tmp_path / "empty", {"Students.csv": b"x"})
    with pytest.raises(BundleError) as err:
        plan_push(target, empty)
    assert str(err.value) == (
        f"{empty} holds no spec files (schools.csv, students.csv, teachers.csv, sections.csv, "
        "enrollments.csv, staff.csv, admins.csv): nothing to push"
    )
    with pytest.raises(BundleError) as err:
        plan_push(target, tmp_path / "nope")
    assert str(err.value) == f"{tmp_path / 'nope'} is not a folder: push takes a bundle folder"


def test_dry_run_opens_no_connection(tmp_path: Path) -> None:
    bundle = write_files(tmp_path / "bundle", NEW)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        # known_hosts and key_file do not even exist: a dry run never needs them.
        target = Target("t", "127.0.0.1", "u", tmp_path / "no-known-hosts", port=port)
        result = push_bundle(target, bundle, dry_run=True)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
    assert result.outcome == "dry-run"
    assert result.attempts == 0
    assert result.plan == plan_push(target, bundle)
    assert result.to_dict()["files"] == [
        {"name": n, "size": len(NEW[n]), "sha256": hashlib.sha256(NEW[n]).hexdigest()}
        for n in ("schools.csv", "students.csv", "teachers.csv", "sections.csv", "enrollments.csv")
    ]


def test_dry_run_result_as_dict(tmp_path: Path) -> None:
    bundle = write_files(tmp_path / "bundle", {"schools.csv": b"School_id\n", "x.txt": b""})
    result = push_bundle(Target("t", "h", "u", Path("kh"), 2222), bundle, dry_run=True)
    sha = hashlib.sha256(b"School_id\n").hexdigest()
    assert result.to_dict() == {
        "target": "t",
        "host": "h",
        "port": 2222,
        "remote_dir": "/",
        "bundle_dir": str(bundle),
        "outcome": "dry-run",
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "attempts": 0,
        "bundle_sha256": hashlib.sha256(f"schools.csv\0{sha}\n".encode()).hexdigest(),
        "files": [{"name": "schools.csv", "size": 10, "sha256": sha}],
        "skipped": ["x.txt"],
        "missing": ["students.csv", "teachers.csv", "sections.csv", "enrollments.csv"],
        "stale_remote": [],
    }
    assert result.started_at.tzinfo is UTC


def test_closed_port_dry_runs_but_does_not_push(tmp_path: Path) -> None:
    bundle = write_files(tmp_path / "bundle", NEW)
    port = free_port()
    target = make_target(tmp_path, port, None, None)
    assert push_bundle(target, bundle, dry_run=True).outcome == "dry-run"
    with pytest.raises(HostUnreachableError) as err:
        push_bundle(target, bundle, retries=2, backoff=0)
    assert str(err.value) == (
        f"cannot connect to 127.0.0.1:{port} (connection refused or no route): check host and "
        "port of [targets.t] and that the server is up; gave up after 3 attempt(s): the remote "
        "still holds its previous files: re-run push once it is reachable"
    )


# --- push and pull against OpenSSH ---------------------------------------------------------


def test_round_trip_is_byte_identical(tmp_path: Path, target: Target) -> None:
    remote = remote_dir(target)
    write_files(remote, {**OLD, "staff.csv": STAFF})
    bundle = write_files(tmp_path / "bundle", {**NEW, "README.txt": b"not pushed"})
    calls: list[tuple[str, int, int]] = []
    result = push_bundle(target, bundle, progress=lambda *a: calls.append(a))
    assert result.outcome == "pushed"
    assert result.attempts == 1
    assert result.stale_remote == ("staff.csv",)
    assert result.plan.skipped == ("README.txt",)
    assert result.plan.bundle_sha256 == expected_bundle_sha(NEW)
    assert folder_digests(remote) == digests({**NEW, "staff.csv": STAFF})
    assert [c for c in calls if c[1] == c[2]] == [(n, len(d), len(d)) for n, d in NEW.items()]
    assert result.started_at <= result.finished_at
    assert result.to_dict()["stale_remote"] == ["staff.csv"]

    os.utime(remote / "students.csv", (1_700_000_000, 1_700_000_000))
    pulled = pull_bundle(target, tmp_path / "pulled")
    dest = tmp_path / "pulled"
    assert folder_digests(dest) == folder_digests(remote)
    assert [f.name for f in pulled.files] == sorted([*NEW, "staff.csv"])
    for f in pulled.files:
        assert f.sha256 == hashlib.sha256((remote / f.name).read_bytes()).hexdigest()
        assert (dest / f.name).stat().st_mtime == int((remote / f.name).stat().st_mtime)
        assert f.mtime.timestamp() == int((remote / f.name).stat().st_mtime)
    assert (dest / "students.csv").stat().st_mtime == 1_700_000_000
    assert pulled.bundle_sha256 == expected_bundle_sha({**NEW, "staff.csv": STAFF})


def test_pull_takes_look_alikes_and_skips_the_rest(tmp_path: Path, target: Target) -> None:
    remote = remote_dir(target)
    extra = {
        "Students.csv": b"a",
        "teachers.CSV": b"b",
        "sections.txt": b"c",
        "notes.txt": b"d",
        "students.csv.part": b"e",
    }
    write_files(remote, {"schools.csv": OLD["schools.csv"], **extra})
    write_files(remote / "sub", {"enrollments.csv": b"f"})
    pulled = pull_bundle(target, tmp_path / "pulled")
    assert [(f.name, f.spec_name, f.size) for f in pulled.files] == [
        ("Students.csv", "students.csv", 1),
        ("schools.csv", "schools.csv", len(OLD["schools.csv"])),
        ("sections.txt", "sections.csv", 1),
        ("teachers.CSV", "teachers.csv", 1),
    ]
    assert sorted(p.name for p in (tmp_path / "pulled").iterdir()) == [
        "Students.csv",
        "schools.csv",
        "sections.txt",
        "teachers.CSV",
    ]


def test_pull_follows_a_link_to_a_file_inside_the_drop(tmp_path: Path, target: Target) -> None:
    """Incident: the SIS writes exports/students.csv and links students.csv to it."""
    remote = remote_dir(target)
    write_files(remote, OLD)
    write_files(remote / "exports", {"students.csv": NEW["students.csv"]})
    (remote / "students.csv").unlink()
    (remote / "students.csv").symlink_to("exports/students.csv")
    pulled = pull_bundle(target, tmp_path / "pulled")
    assert [(f.name, f.size) for f in pulled.files] == [
        (n, len(d)) for n, d in sorted({**OLD, "students.csv": NEW["students.csv"]}.items())
    ]
    assert (tmp_path / "pulled" / "students.csv").read_bytes() == NEW["students.csv"]


@pytest.mark.parametrize("kind", ["link-outside", "folder", "dangling-link"])
def test_pull_refuses_a_spec_name_that_is_not_a_file_in_the_drop(
    tmp_path: Path, target: Target, kind: str
) -> None:
    """Skipping students.csv would record a night with 0 students: a full deletion."""
    remote = remote_dir(target)
    write_files(remote, OLD)
    (remote / "students.csv").unlink()
    outside = write_files(tmp_path / "elsewhere", {"passwd": b"root:x:0:0\n"}) / "passwd"
    if kind == "folder":
        (remote / "students.csv").mkdir()
    else:
        (remote / "students.csv").symlink_to(outside if kind == "link-outside" else "gone.csv")
    with pytest.raises(TransportError) as err:
        pull_bundle(target, tmp_path / "pulled")
    address = f"127.0.0.1:{target.port}"
    assert (
        str(err.value)
        == {
            "link-outside": f"students.csv on {address} is a link to {outside}, which is not a "
            f"file in {remote}: nothing was pulled; replace the link by the file",
            "folder": f"students.csv on {address} is not a regular file (a folder or a device): "
            "nothing was pulled; the district must upload it as a file",
            "dangling-link": f"{remote}/students.csv does not exist on {address}: check remote_dir "
            "of [targets.t]",
        }[kind]
    )
    assert not (tmp_path / "pulled").exists()


@pytest.mark.parametrize(
    ("limits", "line"),
    [
        (
            Limits(pull_max_file_bytes=100),
            "students.csv on {address} is {size:,} bytes, over the limit of 100 "
            "(pull_max_file_bytes in [limits]): nothing was pulled",
        ),
        (
            Limits(pull_max_bytes=151),
            "the files on {address} add up to {total:,} bytes, over the limit of 151 "
            "(pull_max_bytes in [limits]): nothing was pulled",
        ),
    ],
)
def test_pull_refuses_files_over_the_size_caps(
    tmp_path: Path, target: Target, limits: Limits, line: str
) -> None:
    """A lying or broken server must not fill the disk: sizes are checked before downloading."""
    remote = remote_dir(target)
    write_files(remote, {**OLD, "students.csv": b"x" * 150})
    with pytest.raises(TransportError) as err:
        pull_bundle(target, tmp_path / "pulled", limits=limits)
    total = sum(len(d) for d in OLD.values()) - len(OLD["students.csv"]) + 150
    assert str(err.value) == line.format(address=f"127.0.0.1:{target.port}", size=150, total=total)
    assert not (tmp_path / "pulled").exists()


def test_pull_needs_an_empty_folder(tmp_path: Path, target: Target) -> None:
    dest = write_files(tmp_path / "pulled", {"old.csv": b"x"})
    with pytest.raises(TransportError) as err:
        pull_bundle(target, dest)
    assert str(err.value) == f"{dest} is not an empty folder: pull into a new or empty folder"


def test_missing_remote_dir(tmp_path: Path, target: Target) -> None:
    gone = str(tmp_path / "gone")
    moved = dataclasses.replace(target, remote_dir=gone)
    with pytest.raises(TransportError) as err:
        push_bundle(moved, write_files(tmp_path / "bundle", NEW), retries=0)
    assert str(err.value) == (
        f"{gone} does not exist on 127.0.0.1:{target.port}: check remote_dir of [targets.t]"
    )


def test_rerun_replaces_leftover_part_files(tmp_path: Path, target: Target) -> None:
    remote = remote_dir(target)
    write_files(remote, {**OLD, "students.csv.part": b"half", "staff.csv.part": b"half"})
    push_bundle(target, write_files(tmp_path / "bundle", NEW))
    assert folder_digests(remote) == digests(NEW)


def test_sshd_fixture_fails_without_sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.sftp_servers.SSHD", tmp_path / "sshd")
    with pytest.raises(pytest.fail.Exception) as err:
        start_sshd(tmp_path / "s", [])
    assert str(err.value) == (
        f"{tmp_path / 'sshd'} is missing: run `make sysdeps` (installs openssh-server)"
    )


# --- host keys -----------------------------------------------------------------------------


def test_unknown_host_key_is_refused_everywhere(
    tmp_path: Path, sshd: Sshd, client_key: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The right key in ~/.ssh/known_hosts must not be a silent fallback.
    home = tmp_path / "home"
    write_files(
        home / ".ssh", {"known_hosts": known_hosts_line(sshd.port, sshd.host_public_line).encode()}
    )
    monkeypatch.setenv("HOME", str(home))
    target = make_target(tmp_path, sshd.port, None, client_key.private)
    remote = remote_dir(target)
    write_files(remote, OLD)
    expected = (
        f"host key of [127.0.0.1]:{sshd.port} ({fingerprint(sshd.host_public_line)}) is not "
        f"pinned in {target.known_hosts}: confirm this fingerprint with the SFTP provider, then "
        "add the key to that file"
    )
    bundle = write_files(tmp_path / "bundle", NEW)
    with pytest.raises(HostKeyUnknownError) as err:
        push_bundle(target, bundle)
    assert str(err.value) == expected
    with pytest.raises(HostKeyUnknownError) as err:
        pull_bundle(target, tmp_path / "pulled")
    assert str(err.value) == expected
    assert folder_digests(remote) == digests(OLD)
    assert not (tmp_path / "pulled").exists()
    # A known_hosts entry for another port of the same host does not count either.
    target.known_hosts.write_text(known_hosts_line(sshd.port + 1, sshd.host_public_line))
    with pytest.raises(HostKeyUnknownError):
        push_bundle(target, bundle)
    assert folder_digests(remote) == digests(OLD)


def test_missing_known_hosts_file(tmp_path: Path, sshd: Sshd, client_key: KeyPair) -> None:
    target = make_target(tmp_path, sshd.port, None, client_key.private)
    target.known_hosts.unlink()
    with pytest.raises(ConfigError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW))
    assert str(err.value) == (
        f"known_hosts file {target.known_hosts} of [targets.t] not found: create it with the "
        "server's host key, checked against the fingerprint the provider gives you"
    )


def test_invalid_known_hosts_file(tmp_path: Path) -> None:
    target = make_target(tmp_path, free_port(), None, None)
    target.known_hosts.write_text("[127.0.0.1]:1 ssh-ed25519 !!!notbase64\n")
    with pytest.raises(ConfigError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW), retries=0)
    assert str(err.value) == (
        f"known_hosts file {target.known_hosts} of [targets.t] has an invalid line "
        "('[127.0.0.1]:1 ssh-ed25519 !!!notbase64'): fix or remove it"
    )


def test_changed_host_key_warns_of_mitm(tmp_path: Path, sshd: Sshd, client_key: KeyPair) -> None:
    impostor = make_key(tmp_path / "other_host_key").public_line
    target = make_target(tmp_path, sshd.port, impostor, client_key.private)
    write_files(remote_dir(target), OLD)
    with pytest.raises(HostKeyChangedError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW))
    assert str(err.value) == (
        f"host key of 127.0.0.1:{sshd.port} changed: the server sent "
        f"{fingerprint(sshd.host_public_line)} but {target.known_hosts} pins "
        f"{fingerprint(impostor)}; possible man-in-the-middle: do not push, confirm the new key "
        "with the SFTP provider before changing that file"
    )
    assert folder_digests(remote_dir(target)) == digests(OLD)


def test_transport_never_trusts_keys_it_was_not_given() -> None:
    source = "".join(
        p.read_text() for p in Path(__file__).parents[1].glob("rosterlab/transport/*.py")
    )
    for forbidden in ("AutoAddPolicy", "WarningPolicy", "load_system_host_keys", "save_host_keys"):
        assert forbidden not in source


# --- authentication --------------------------------------------------------------------------


def test_authentication_refused(tmp_path: Path, sshd: Sshd) -> None:
    stranger = make_key(tmp_path / "stranger")
    target = make_target(tmp_path, sshd.port, sshd.host_public_line, stranger.private)
    write_files(remote_dir(target), OLD)
    with pytest.raises(AuthenticationError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW))
    assert str(err.value) == (
        f"authentication refused by 127.0.0.1:{sshd.port} for user {current_user()!r}: check "
        "username, key_file and password_env of [targets.t] and that the provider has your "
        "public key"
    )
    assert folder_digests(remote_dir(target)) == digests(OLD)


def test_encrypted_key_passphrase_from_environment_only(
    tmp_path: Path, sshd: Sshd, encrypted_client_key: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = encrypted_client_key.private
    bundle = write_files(tmp_path / "bundle", NEW)
    target = make_target(tmp_path, sshd.port, sshd.host_public_line, key, password_env="RL_PASS")
    monkeypatch.delenv("RL_PASS", raising=False)
    with pytest.raises(ConfigError) as err:
        push_bundle(target, bundle)
    assert str(err.value) == (
        "environment variable RL_PASS (password_env of [targets.t]) is not set: export it "
        "before running"
    )
    monkeypatch.setenv("RL_PASS", PASSPHRASE)
    assert push_bundle(target, bundle).outcome == "pushed"
    assert folder_digests(remote_dir(target)) == digests(NEW)

    monkeypatch.setitem(sys.modules, "keyring", None)  # keyring not installed
    no_secret = dataclasses.replace(target, password_env=None)
    with pytest.raises(ConfigError) as err:
        push_bundle(no_secret, bundle)
    assert str(err.value) == (
        f"key_file {key} of [targets.t] is encrypted: set password_env to a variable holding its "
        "passphrase (or store it with: keyring set rosterlab t)"
    )


def test_a_dry_run_opens_an_encrypted_key_with_its_passphrase_and_names_a_wrong_one(
    tmp_path: Path,
    sshd: Sshd,
    client_key: KeyPair,
    encrypted_client_key: KeyPair,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A support engineer's dry run before a re-push: the passphrase comes from password_env.
    It read the key with a str passphrase and stopped on "unexpected error (TypeError:
    password must be bytes)"; a wrong passphrase was "authentication refused … the provider
    has your public key" on the push itself."""
    key = encrypted_client_key.private
    target = make_target(tmp_path, sshd.port, sshd.host_public_line, key, password_env="RL_PASS")
    monkeypatch.setenv("RL_PASS", PASSPHRASE)
    assert check_credentials(target)[1] == (
        f"key_file {key}: reads as {fingerprint(encrypted_client_key.public_line)}"
    )
    monkeypatch.setenv("RL_PASS", "not the passphrase")
    wrong = (
        f"key_file {key} of [targets.t] does not open with the passphrase in RL_PASS "
        "(password_env): set the key's passphrase there"
    )
    with pytest.raises(ConfigError) as err:
        check_credentials(target)
    assert str(err.value) == wrong
    with pytest.raises(ConfigError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW))
    assert str(err.value) == wrong
    monkeypatch.setitem(sys.modules, "keyring", None)  # keyring not installed
    with pytest.raises(ConfigError) as err:
        check_credentials(dataclasses.replace(target, password_env=None))
    assert str(err.value) == (
        f"key_file {key} of [targets.t] is encrypted: set password_env to a variable holding its "
        "passphrase (or store it with: keyring set rosterlab t)"
    )
    # An unencrypted key beside a server password in password_env: the key reads as it is.
    plain = dataclasses.replace(target, key_file=client_key.private)
    assert check_credentials(plain)[1] == (
        f"key_file {client_key.private}: reads as {fingerprint(client_key.public_line)}"
    )


def test_passphrase_from_keyring(
    tmp_path: Path, sshd: Sshd, encrypted_client_key: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # keyring is not installed here; a stand-in module plays the system keyring.
    asked: list[tuple[str, str]] = []

    def get_password(service: str, user: str) -> str:
        asked.append((service, user))
        return PASSPHRASE

    monkeypatch.setitem(sys.modules, "keyring", types.SimpleNamespace(get_password=get_password))
    target = make_target(tmp_path, sshd.port, sshd.host_public_line, encrypted_client_key.private)
    assert push_bundle(target, write_files(tmp_path / "bundle", NEW)).outcome == "pushed"
    assert asked == [("rosterlab", "t")]


# --- servers without posix-rename -----------------------------------------------------------


@pytest.fixture(scope="module")
def sshd_without_posix_rename(
    tmp_path_factory: pytest.TempPathFactory, client_key: KeyPair
) -> Iterator[Sshd]:
    server = start_sshd(
        tmp_path_factory.mktemp("sshd-no-rename"), [client_key.public_line], "-P posix-rename"
    )
    yield server
    server.stop()


def test_server_without_posix_rename_gets_nothing(
    tmp_path: Path, sshd_without_posix_rename: Sshd, client_key: KeyPair
) -> None:
    server = sshd_without_posix_rename
    target = make_target(tmp_path, server.port, server.host_public_line, client_key.private)
    write_files(remote_dir(target), OLD)
    with pytest.raises(PosixRenameUnsupportedError) as err:
        push_bundle(target, write_files(tmp_path / "bundle", NEW))
    assert str(err.value) == (
        f"127.0.0.1:{server.port} does not support posix-rename (posix-rename@openssh.com), so "
        "the bundle cannot be swapped in safely: nothing was uploaded; ask the provider to "
        "enable it or push to a server that has it"
    )
    assert folder_digests(remote_dir(target)) == digests(OLD)
