"""Read a bundle from a folder or a zip: the files as received, sniffed, with file/header findings.

A file is a spec file under its spec name at the top level, in any case: Clever's spec does not
speak to case and its help centre lists the names capitalised, so ``Students.csv`` is read,
stored and checked as students.csv, with a warning naming the canonical name. A file that is
clearly meant to be one but that Clever will not pick up (``students.csv.txt`` — Windows hides
known extensions —, ``students.txt``, ``upload/teachers.csv``, ``enrolments.csv``) is reported
as misnamed. Operating-system litter (hidden files,
``__MACOSX/``, ``Thumbs.db``, ``desktop.ini``) is not part of a bundle. A zip whose entries all sit
under one folder — what zipping a folder produces — is read as that folder.

Bad data becomes findings; only a bundle that cannot be read at all raises
:class:`~rosterlab.errors.BundleError` (missing path, not a zip, unsafe or encrypted zip, too
large, unreadable file).
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from rosterlab.bundle.digest import bundle_sha256
from rosterlab.bundle.model import Bundle, SourceFile
from rosterlab.bundle.sniff import Sniffed, sniff
from rosterlab.config import Limits
from rosterlab.errors import BundleError, DiskFullError, disk_full
from rosterlab.spec import (
    EXTENSION_PREFIX,
    FILES,
    Finding,
    entity_of_column,
    entity_of_file,
    file_allows_extensions,
    file_columns,
    finding,
    spec_column,
    spec_file,
)

IGNORED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini"})
MISNAMED_EXTENSIONS = ("csv", "txt", "")  # a renamed file with these is still the right text
NEAR_MISS = 0.85  # difflib ratio from which a name is "clearly meant" as another
BLANK_ROW_FINDINGS = 1000  # per file; SourceFile.blank_rows keeps every one
TYPE_LINE = "#TYPE "  # Windows PowerShell 5.1 Export-Csv's first line by default
RATIO_FROM_BYTES = 1024**2  # smaller members are never zip bombs, whatever their ratio
NAME_MAX = 255  # bytes in one file or folder name (Linux, macOS, Windows)


@contextmanager
def open_bundle(source: str | Path, *, limits: Limits | None = None) -> Iterator[Bundle]:
    """Read a bundle into a temporary work folder that is removed when the block ends.

    A full disk (or no writable temporary folder) is a one-line DiskFullError.
    """
    try:
        work = tempfile.TemporaryDirectory(prefix="rosterlab-bundle-")
    except OSError as exc:  # tempfile found no folder it could write a probe file into
        raise DiskFullError(
            "a temporary folder",
            "none of TMPDIR, /tmp, /var/tmp or the current folder takes a file",
            "nothing was read (TMPDIR may name a folder on a disk with space)",
        ) from exc
    with work as folder:
        try:
            bundle = read_bundle(source, folder, limits=limits)
        except OSError as exc:
            full = disk_full(exc, folder, "nothing was read")
            if full is None:
                raise
            raise full from exc
        yield bundle


def read_bundle(
    source: str | Path, work_dir: str | Path, *, limits: Limits | None = None
) -> Bundle:
    """Read the folder or zip at ``source``; extracted and transcoded copies go under ``work_dir``.

    The returned paths stay valid as long as ``work_dir`` and the source folder do.
    """
    path = Path(source).absolute()
    limits = limits or Limits()
    if path.is_dir():
        work = _work_folder(work_dir)
        files = [
            _read_file(path / name, name, work, i, limits)
            for i, name in enumerate(_folder_names(path))
        ]
    elif path.is_file():
        files = _read_zip(path, _work_folder(work_dir), limits)
    else:
        raise BundleError(f"bundle {path} does not exist: pass a bundle folder or a .zip of one")
    files = _one_per_spec_name(sorted(files, key=lambda f: f.name))
    return Bundle(
        source=str(source),
        files=tuple(files),
        findings=tuple(bundle_findings(files, limits)),
        sha256=bundle_sha256((f.name, f.sha256) for f in files),
        newest_mtime=max((f.mtime for f in files), default=None),
    )


def _one_per_spec_name(files: list[SourceFile]) -> list[SourceFile]:
    """When names differing only in case collide (``students.csv`` and ``Students.csv``), the
    exact spec name is the spec file, else the first by name; the others are not spec files."""
    chosen: dict[str, SourceFile] = {}
    for f in files:
        if f.spec_name and (f.spec_name not in chosen or f.name == f.spec_name):
            chosen[f.spec_name] = f
    return [
        f if chosen.get(f.spec_name or "") in (None, f) else replace(f, spec_name=None)
        for f in files
    ]


# --- sources ---------------------------------------------------------------------------------


def _work_folder(work_dir: str | Path) -> Path:
    try:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="bundle-", dir=work_dir))
    except OSError as exc:
        raise BundleError(
            f"cannot use work folder {work_dir} ({exc.strerror}): choose a writable folder"
        ) from exc


def _ignored(parts: Iterable[str]) -> bool:
    """Hidden files and folders and desktop litter are not part of a bundle."""
    return any(part.startswith(".") or part in IGNORED_NAMES for part in parts)


def _folder_names(root: Path) -> list[str]:
    """Every regular file under ``root``, as a relative POSIX name (symlinked folders skipped).

    A link to a file inside the bundle is read; a link (to a file or a folder) leading out of it
    raises, as a zip's link entry does: whoever can write the drop folder must not make rosterlab
    keep, export or push another file of this machine (an SSH key, /etc/passwd). A name that is
    not UTF-8 raises too: the store keeps names as text.
    """

    def fail(exc: OSError) -> None:
        raise BundleError(f"cannot list {exc.filename} ({exc.strerror}): check its permissions")

    names = []
    inside = root.resolve()
    for folder, dirs, files in os.walk(root, onerror=fail):
        relative = Path(folder).relative_to(root).parts
        dirs[:] = [d for d in dirs if not _ignored([d])]
        for name in [*(f for f in files if not _ignored([f])), *dirs]:
            path = Path(folder, name)
            shown = "/".join((*relative, name))
            if not _utf8(name):
                raise BundleError(
                    f"{root} holds a file whose name is not UTF-8 ('{_escaped(shown)}'): "
                    "rename it (or move it out of the bundle)"
                )
            if path.is_symlink() and not path.resolve().is_relative_to(inside):
                raise BundleError(
                    f"{root} holds {shown!r}, a link to {path.resolve()} outside the bundle: "
                    "copy the file in instead of linking it"
                )
        for name in files:
            path = Path(folder, name)
            if _ignored([name]) or not path.is_file():  # no FIFOs, broken links
                continue
            names.append("/".join((*relative, name)))
    return sorted(names)


def _utf8(name: str) -> bool:
    """False for a name the file system gave as bytes that are not UTF-8 (surrogate escapes)."""
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _escaped(name: str) -> str:
    """A name with its undecodable bytes as ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _read_file(path: Path, name: str, work: Path, index: int, limits: Limits) -> SourceFile:
    try:
        sniffed = sniff(path, _work_path(work, "utf8", index, name))
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(microsecond=0)
    except OSError as exc:
        raise BundleError(
            f"cannot read {path} or copy it under {work} ({exc.strerror}): "
            "check permissions and free space"
        ) from exc
    return _source_file(name, path, mtime, sniffed, limits)


def _work_path(work: Path, kind: str, index: int, name: str) -> Path:
    """Where a file's extracted (raw) or UTF-8 copy goes: one folder per file, no collisions."""
    return work / kind / str(index) / PurePosixPath(name).name


def _source_file(
    name: str, path: Path, mtime: datetime, sniffed: Sniffed, limits: Limits
) -> SourceFile:
    return SourceFile(
        name=name,
        spec_name=spec_file(name),
        path=path,
        parse_path=sniffed.parse_path,
        sha256=sniffed.sha256,
        size=sniffed.size,
        mtime=mtime,
        encoding=sniffed.encoding,
        bom=sniffed.bom,
        newline=sniffed.newline,
        header=sniffed.header,
        blank_rows=sniffed.blank_rows,
        too_wide=len(sniffed.header) > limits.max_columns,
        bad_bytes=sniffed.bad_bytes,
    )


def _read_zip(path: Path, work: Path, limits: Limits) -> list[SourceFile]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _zip_error(
            f"{path} is neither a folder nor a readable zip ({exc})",
            "pass the bundle folder or a .zip of it",
        ) from exc
    except UnicodeDecodeError as exc:  # flagged as UTF-8, but it is not
        name = exc.object[:255].decode("utf-8", "backslashreplace")
        raise _zip_error(
            f"{path} holds a file name that is not UTF-8 ('{name}')",
            "re-create the zip with UTF-8 names, or pass the folder",
        ) from exc
    with archive:
        members = _zip_members(path, archive.infolist(), limits)
        files = []
        for index, (name, info) in enumerate(members.items()):
            if info.flag_bits & 0x1:
                raise _zip_error(
                    f"{path} is encrypted ({info.filename})",
                    "unzip it with its password and pass the folder",
                )
            target = _work_path(work, "raw", index, name)
            try:
                target.parent.mkdir(parents=True)
                # zipfile stops at the declared size and checks the CRC, so the limit holds.
                with archive.open(info) as stream:
                    sniffed = sniff(target, _work_path(work, "utf8", index, name), stream)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise _zip_error(
                    f"{path}: cannot unpack {info.filename} ({exc})",
                    "re-create the zip or pass the folder",
                ) from exc
            except OSError as exc:
                raise BundleError(
                    f"cannot unpack {path} into {work} ({exc.strerror}): free "
                    "some space or choose another work folder"
                ) from exc
            files.append(_source_file(name, target, _zip_mtime(info), sniffed, limits))
    return files


def _zip_error(problem: str, advice: str) -> BundleError:
    """A zip that cannot be read, whose files could be passed as a folder instead."""
    return BundleError(f"{problem}: {advice}", problem=problem)


def _zip_members(
    path: Path, infos: list[zipfile.ZipInfo], limits: Limits
) -> dict[str, zipfile.ZipInfo]:
    """The zip's files by safe relative name, litter dropped, a lone top folder unwrapped."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if info.is_dir():
            continue
        name = _safe_name(path, info)
        if name is None:
            continue
        if name in members:
            raise BundleError(f"{path} holds {name!r} twice: re-create the zip")
        members[name] = info
    if len(members) > limits.zip_max_files:
        raise _zip_error(
            f"{path} holds {len(members)} files, over the limit of {limits.zip_max_files}",
            "unzip it and pass the folder",
        )
    for name in members:
        parents = ["/".join(name.split("/")[:i]) for i in range(1, name.count("/") + 1)]
        if clash := next((parent for parent in parents if parent in members), None):
            raise BundleError(
                f"{path} holds {clash!r} both as a file and as the folder of {name!r}: "
                "re-create the zip"
            )
    size = sum(info.file_size for info in members.values())
    if size > limits.bundle_max_bytes:
        raise _zip_error(
            f"{path} unpacks to {size:,} bytes, over the limit of {limits.bundle_max_bytes:,} "
            "(bundle_max_bytes in [limits])",
            "unzip it and pass the folder",
        )
    for info in members.values():
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_FROM_BYTES and ratio > limits.zip_max_ratio:
            raise _zip_error(
                f"{path}: {info.filename} unpacks {ratio:,.0f} times its packed size "
                f"({info.file_size:,} bytes), over the limit of {limits.zip_max_ratio}:1 "
                "(zip_max_ratio in [limits]) that stops zip bombs",
                "unzip it and pass the folder",
            )
    tops = {name.split("/", 1)[0] for name in members}
    if len(tops) == 1 and all("/" in name for name in members):
        members = {name.split("/", 1)[1]: info for name, info in members.items()}
    return members


def _safe_name(path: Path, info: zipfile.ZipInfo) -> str | None:
    """The member's relative name; None for litter; unsafe names and links raise."""
    raw = info.filename.replace("\\", "/")
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    is_link = stat.S_ISLNK(info.external_attr >> 16)
    if raw.startswith("/") or ".." in parts or re.match(r"[A-Za-z]:", raw) or is_link:
        raise BundleError(
            f"{path} holds an unsafe entry {info.filename!r} (absolute, '..' or a "
            "link): re-create the zip with plain relative names"
        )
    if not parts or _ignored(parts):
        return None
    if long := next((part for part in parts if len(part.encode()) > NAME_MAX), None):
        raise BundleError(
            f"{path} holds an entry whose name is over {NAME_MAX} bytes ({long[:40]!r}...), "
            "longer than a file name can be: re-create the zip with shorter names"
        )
    return "/".join(parts)


def _zip_mtime(info: zipfile.ZipInfo) -> datetime:
    """Zip times are local wall-clock times without a zone: read them as this machine's."""
    try:
        return datetime(*info.date_time).astimezone(UTC)
    except ValueError:  # an impossible date (month 0) from a careless zipper
        return datetime(1980, 1, 1, tzinfo=UTC)


# --- findings --------------------------------------------------------------------------------


def bundle_findings(files: list[SourceFile], limits: Limits) -> Iterator[Finding]:
    """File and header findings for a bundle's files (rows are checked elsewhere)."""
    present = {f.spec_name for f in files if f.spec_name}
    for spec in FILES.values():
        if spec.required and spec.name not in present:
            yield finding("missing-file", entity=spec.entities[0], value=spec.name)
    for f in files:
        if f.spec_name:
            if f.name != f.spec_name:
                yield finding(
                    "file-name-case",
                    entity=entity_of_file(f.spec_name),
                    value=f.name,
                    expected=f.spec_name,
                )
            yield from _file_findings(f, f.spec_name, limits)
            continue
        expected = meant_as(f.name)
        if expected and expected not in present:
            yield finding(
                "misnamed-file", entity=entity_of_file(expected), value=f.name, expected=expected
            )
        else:
            yield finding("unexpected-file", value=f.name)


def meant_as(name: str) -> str | None:
    """The spec file a misnamed file is clearly meant to be (``students.txt``,
    ``students.csv.txt``, ``upload/Students.csv`` → students.csv)."""
    stem, _, extension = PurePosixPath(name).name.lower().rpartition(".")
    if not stem:
        stem, extension = extension, ""
    if extension not in MISNAMED_EXTENSIONS:
        return None
    stem = stem.removesuffix(".csv")  # students.csv.txt: a hidden extension added another
    stems = {spec.stem: spec.name for spec in FILES.values()}
    match = difflib.get_close_matches(stem, stems, n=1, cutoff=NEAR_MISS)
    return stems[match[0]] if match else None


def _file_findings(f: SourceFile, spec_name: str, limits: Limits) -> Iterator[Finding]:
    entity = entity_of_file(spec_name)
    if FILES[spec_name].deprecated:
        yield finding("deprecated-file", entity=entity, value=spec_name)
    if f.encoding is None:  # not text at all: Clever cannot read a row of it
        yield finding("unreadable-file", entity=entity, value=spec_name, file=spec_name)
        return
    if f.encoding not in ("utf-8", "utf-8-sig"):
        yield finding("encoding-not-utf8", entity=entity, value=f.encoding, file=spec_name)
    if f.bom and f.encoding == "utf-8-sig":
        yield finding("bom-present", entity=entity, file=spec_name)
    if not f.header:
        yield finding("empty-file", entity=entity, value=spec_name)
        return
    if f.too_wide:  # its header alone would be thousands of findings
        yield finding(
            "too-many-columns",
            entity=entity,
            value=str(len(f.header)),
            file=spec_name,
            limit=limits.max_columns,
        )
        return
    yield from header_findings(spec_name, f.header)
    for bad in f.bad_bytes:
        column = (
            "?"
            if bad.field is None
            else f.header[bad.field]
            if bad.field < len(f.header)
            else f"#{bad.field + 1}"
        )
        yield finding(
            "invalid-utf8-bytes",
            entity=entity,
            field=column if bad.line > 1 else None,
            value=bad.raw.hex(" ").upper(),
            row=bad.line - 1 if bad.line > 1 else None,
            file=spec_name,
            line=bad.line,
            column=column,
            text=bad.text,
        )
    if _doubled_carriage_returns(f):
        yield finding(
            "doubled-carriage-return",
            entity=entity,
            value=f"{len(f.blank_rows):,}",
            file=spec_name,
        )
        return
    for row in f.blank_rows[:BLANK_ROW_FINDINGS]:
        yield finding("blank-row", entity=entity, row=row, file=spec_name)


def _doubled_carriage_returns(f: SourceFile) -> bool:
    """Whether every line ends CR CR LF: CR and CRLF line ends mixed, and an empty line after
    the header and after every row (rows 1, 3, 5, …)."""
    blank = f.blank_rows
    return f.newline == "mixed" and len(blank) > 1 and blank == tuple(range(1, 2 * len(blank), 2))


def header_findings(spec_name: str, header: tuple[str, ...]) -> Iterator[Finding]:
    """Duplicate, missing, misspelled, unknown and extension columns of a spec file's header.

    Spec columns match case-insensitively, as Clever matches them (v2.1.1): ``SCHOOL_ID`` is
    School_id, and ``School_id`` next to ``SCHOOL_ID`` is a duplicate. PowerShell's
    ``Export-Csv`` without ``-NoTypeInformation`` writes a ``#TYPE …`` line first, which Clever
    reads as the header: that is one finding, not one per missing column.
    """
    if len(header) == 1 and header[0].startswith(TYPE_LINE):
        yield finding(
            "type-information-line",
            entity=entity_of_file(spec_name),
            value=header[0],
            file=spec_name,
        )
        return
    fields = file_columns(spec_name)
    unnamed = [name for name in header if not name.strip()]
    if unnamed:  # a trailing comma on every line, or Excel's empty columns: not columns
        yield finding(
            "unnamed-column", entity=entity_of_file(spec_name), value=str(len(unnamed)),
            file=spec_name,
        )  # fmt: skip
    matched = [spec_column(spec_name, column) or column for column in header]
    counts = Counter(matched)
    first: dict[str, str] = {}
    for column, name in zip(matched, header, strict=True):
        first.setdefault(column, name)
    for column, name in first.items():
        if counts[column] > 1 and name.strip():
            yield finding(
                "duplicate-column",
                entity=entity_of_column(spec_name, column).name,
                value=name,
                file=spec_name,
            )
    for field in fields:
        if field.required and field.name not in counts:
            code = "missing-column" if field.confirmed else "missing-column-unconfirmed"
            yield finding(
                code,
                entity=entity_of_column(spec_name, field.name).name,
                field=field.name,
                file=spec_name,
            )
    absent = [field.name for field in fields if field.name not in counts]
    for column in dict.fromkeys(header):
        if spec_column(spec_name, column) or not column.strip():
            continue
        if column.startswith(EXTENSION_PREFIX):
            code = (
                "extension-column" if file_allows_extensions(spec_name) else "extension-not-allowed"
            )
            yield finding(code, entity=entity_of_file(spec_name), value=column, file=spec_name)
        elif near := _near_miss(spec_name, column, absent):
            yield finding(
                "misspelled-column",
                entity=entity_of_column(spec_name, near).name,
                field=near,
                value=column,
                file=spec_name,
            )
        else:
            yield finding(
                "unknown-column", entity=entity_of_file(spec_name), value=column, file=spec_name
            )


def _near_miss(spec_name: str, column: str, absent: list[str]) -> str | None:
    """The absent spec column ``column`` is a near miss of (case, spacing, a typo), if any."""
    if column[: len(EXTENSION_PREFIX)].lower() == EXTENSION_PREFIX:
        fixed = EXTENSION_PREFIX + column[len(EXTENSION_PREFIX) :]
        return fixed if file_allows_extensions(spec_name) else None
    by_key = {_squash(name): name for name in absent}
    key = _squash(column)
    if key in by_key:
        return by_key[key]
    match = difflib.get_close_matches(key, by_key, n=1, cutoff=NEAR_MISS)
    return by_key[match[0]] if match else None


def _squash(name: str) -> str:
    return re.sub(r"[\s_.\-]", "", name).lower()
