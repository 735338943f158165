"""The history store's schema, as recorded migrations applied in order.

Each entity gets one SCD2 table: every distinct row version of a district, with the interval of
snapshot sequence numbers ``[valid_from, valid_to]`` (``valid_to`` NULL while still present) in
which that exact version was present. Storage grows with changes, not with the number of nights.
Versions are a set, as Clever sees them: an exact duplicate row is one version (the duplicate
itself is a finding, and the raw file keeps it byte for byte).
"""

from __future__ import annotations

from rosterlab import spec
from rosterlab.store.sql import quote_ident, quote_literal

# Migration 2 as applied: one SCD2 table per entity, with the spec's columns of the day. Frozen
# text: a later spec change needs a new migration (ALTER TABLE ... ADD COLUMN), never an edit here
# (tests/test_migrations.py pins every migration's sha256 and checks the tables against the spec).
ENTITY_TABLES = """
CREATE TABLE "schools" (
    district VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    "School_id" VARCHAR,
    "School_name" VARCHAR,
    "School_number" VARCHAR,
    "State_id" VARCHAR,
    "Low_grade" VARCHAR,
    "High_grade" VARCHAR,
    "Principal" VARCHAR,
    "Principal_email" VARCHAR,
    "School_address" VARCHAR,
    "School_city" VARCHAR,
    "School_state" VARCHAR,
    "School_zip" VARCHAR,
    "School_phone" VARCHAR,
    extra MAP(VARCHAR, VARCHAR)
);

CREATE TABLE "students" (
    district VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    "School_id" VARCHAR,
    "Student_id" VARCHAR,
    "Student_number" VARCHAR,
    "State_id" VARCHAR,
    "Last_name" VARCHAR,
    "Middle_name" VARCHAR,
    "First_name" VARCHAR,
    "Grade" VARCHAR,
    "Gender" VARCHAR,
    "DOB" VARCHAR,
    "Graduation_year" VARCHAR,
    "Race" VARCHAR,
    "Hispanic_Latino" VARCHAR,
    "Home_language" VARCHAR,
    "Ell_status" VARCHAR,
    "Frl_status" VARCHAR,
    "IEP_status" VARCHAR,
    "Student_street" VARCHAR,
    "Student_city" VARCHAR,
    "Student_state" VARCHAR,
    "Student_zip" VARCHAR,
    "Student_email" VARCHAR,
    "Username" VARCHAR,
    "Password" VARCHAR,
    "Unweighted_gpa" VARCHAR,
    "Weighted_gpa" VARCHAR,
    extra MAP(VARCHAR, VARCHAR)
);

CREATE TABLE "contacts" (
    district VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    "Student_id" VARCHAR,
    "Contact_relationship" VARCHAR,
    "Contact_type" VARCHAR,
    "Contact_name" VARCHAR,
    "Contact_phone" VARCHAR,
    "Contact_phone_type" VARCHAR,
    "Contact_email" VARCHAR,
    "Contact_sis_id" VARCHAR,
    extra MAP(VARCHAR, VARCHAR)
);

CREATE TABLE "teachers" (
    district VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    "School_id" VARCHAR,
    "Teacher_id" VARCHAR,
    "Teacher_number" VARCHAR,
    "State_teacher_id" VARCHAR,
    "Last_name" VARCHAR,
    "Middle_name" VARCHAR,
    "First_name" VARCHAR,
    "Teacher_email" VARCHAR,
    "Title" VARCHAR,
    "Username" VARCHAR,
    "Password" VARCHAR,
    extra MAP(VARCHAR, VARCHAR)
);

CREATE TABLE "sections" (
    district VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    "School_id" VARCHAR,
    "Section_id" VARCHAR,
    "Teacher_id" VARCHAR,
    "Teacher_2_id" VARCHAR,
    "Teacher_3_id" VARCHAR,
    "Teacher_4_id" VARCHAR,
    "Teacher_5_id" VARCHAR,
    "Teacher_6_id" VARCHAR,
    "Teacher_7_id" VARCHAR,
    "Teacher_8_id" VARCHAR,
    "Teacher_9_id" VARCHAR,
    "Teacher_10_id" VARCHAR,
    "Name" VARCHAR,
    "Section_number" VARCHAR,
    "Grade" VARCHAR,
    "Course_name" VARCHAR,
    "Course_number" VARCHAR,
    "Course_description" VARCHAR,
    "Period" VARCHAR,
    "Subject" VARCHAR,
    "Term_name" VARCHAR,
    "Term_start" VARCHAR,
    "Term_end" VARCHAR,
    extra MAP(VARCHAR, VARCHAR)
);

CREATE TABLE "enrollments" (
    district VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    "School_id" VARCHAR,
    "Section_id" VARCHAR,
    "Student_id" VARCHAR,
    extra MAP(VARCHAR, VARCHAR)
);

CREATE TABLE "staff" (
    district VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    "School_id" VARCHAR,
    "Staff_id" VARCHAR,
    "Staff_email" VARCHAR,
    "First_name" VARCHAR,
    "Last_name" VARCHAR,
    "Department" VARCHAR,
    "Title" VARCHAR,
    "Username" VARCHAR,
    "Password" VARCHAR,
    "Role" VARCHAR,
    extra MAP(VARCHAR, VARCHAR)
);

CREATE TABLE "admins" (
    district VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    "School_id" VARCHAR,
    "Staff_id" VARCHAR,
    "Admin_email" VARCHAR,
    "First_name" VARCHAR,
    "Last_name" VARCHAR,
    "Admin_title" VARCHAR,
    "Username" VARCHAR,
    "Password" VARCHAR,
    "Role" VARCHAR,
    extra MAP(VARCHAR, VARCHAR)
)"""


BASE_TABLES = """
CREATE TABLE districts (
    district VARCHAR PRIMARY KEY,
    name VARCHAR,
    sync_type VARCHAR NOT NULL
);
CREATE SEQUENCE snapshot_ids START 1;
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    district VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    taken_at TIMESTAMP NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    source VARCHAR NOT NULL,
    bundle_sha256 VARCHAR NOT NULL,
    origin VARCHAR NOT NULL,
    sync_type VARCHAR NOT NULL,
    UNIQUE (district, seq)
);
CREATE TABLE raw_files (
    sha256 VARCHAR PRIMARY KEY,
    bytes BIGINT NOT NULL,
    codec VARCHAR NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE snapshot_files (
    snapshot_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    spec_name VARCHAR,
    entity VARCHAR,
    sha256 VARCHAR NOT NULL,
    bytes BIGINT NOT NULL,
    rows BIGINT,
    encoding VARCHAR,
    bom BOOLEAN NOT NULL,
    newline VARCHAR,
    header VARCHAR[] NOT NULL,
    mtime TIMESTAMP,
    PRIMARY KEY (snapshot_id, name)
);
CREATE TABLE snapshot_entities (
    snapshot_id INTEGER NOT NULL,
    entity VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    versions_added BIGINT NOT NULL,
    versions_closed BIGINT NOT NULL,
    PRIMARY KEY (snapshot_id, entity)
);
CREATE TABLE findings (
    snapshot_id INTEGER NOT NULL,
    stage VARCHAR NOT NULL,
    code VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    entity VARCHAR,
    key VARCHAR,
    field VARCHAR,
    value VARCHAR,
    "row" BIGINT,
    message VARCHAR NOT NULL,
    hint VARCHAR NOT NULL,
    cause VARCHAR
);
"""

# Every push of a bundle to an SFTP target, failed ones included (outcome 'pushed' | 'failed').
PUSHES_TABLE = """
CREATE SEQUENCE push_ids START 1;
CREATE TABLE pushes (
    id INTEGER PRIMARY KEY,
    district VARCHAR,
    target VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    port INTEGER NOT NULL,
    remote_dir VARCHAR NOT NULL,
    bundle_dir VARCHAR NOT NULL,
    bundle_sha256 VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    outcome VARCHAR NOT NULL,
    error VARCHAR,
    attempts INTEGER,
    forced BOOLEAN NOT NULL,
    files STRUCT(name VARCHAR, bytes BIGINT, sha256 VARCHAR)[] NOT NULL,
    entity_rows MAP(VARCHAR, BIGINT),
    stale_remote VARCHAR[] NOT NULL
);
"""

# rosterlab.checks: the district's customization ledger (overrides kept on purpose), a field
# profile per snapshot and received column, and which snapshots' check findings are current.
CHECKS_TABLES = """
CREATE SEQUENCE ledger_ids START 1;
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY DEFAULT nextval('ledger_ids'),
    district VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    value VARCHAR,
    reason VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (district, entity, key, field)
);
CREATE TABLE field_profiles (
    snapshot_id INTEGER NOT NULL,
    file VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    rows BIGINT NOT NULL,
    filled BIGINT NOT NULL,
    distinct_values BIGINT NOT NULL,
    sampled BIGINT NOT NULL,
    patterns MAP(VARCHAR, BIGINT),
    PRIMARY KEY (snapshot_id, file, field)
);
CREATE TABLE check_runs (
    snapshot_id INTEGER PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,
    checked_at TIMESTAMP NOT NULL
);
"""


# A raw file is a full zstd frame (codec 'zstd', a keyframe) or a zstd patch-from delta (codec
# 'zstd-delta') against the keyframe ``base_sha256``; see rosterlab/store/raw.py.
RAW_DELTAS = "ALTER TABLE raw_files ADD COLUMN base_sha256 VARCHAR"

# A blob longer than rosterlab.store.raw.PART keeps its first PART bytes in ``raw_files.data``
# and the rest in numbered parts here (1, 2, ...): DuckDB copies a bound blob several times
# while inserting it, so a 83 MiB students.csv bound whole raised the 1M full pull's peak by
# ~150 MiB; parts of 4 MiB do not. Blobs kept before this migration are whole, with no parts.
RAW_PARTS = """
CREATE TABLE raw_file_parts (
    sha256 VARCHAR NOT NULL,
    part INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (sha256, part)
)"""


# The versions of each key two or more versions hold at once in a snapshot (a duplicate ID as
# the store sees it). Kept by the ingest so a diff finds a touched key's other versions here
# instead of scanning a key column; the backfill pairs overlapping versions of one key. No
# primary key: a rebuild deletes and re-inserts the same rows in one transaction, which DuckDB's
# index refuses; doctor checks the table against the history instead.
DUPLICATE_VERSIONS = """
CREATE TABLE duplicate_versions (
    snapshot_id INTEGER NOT NULL,
    entity VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    row_hash UBIGINT NOT NULL
)"""


# Migration 6's backfill as applied (duplicate_versions_sql of each entity, frozen).
DUPLICATE_VERSIONS_BACKFILL = """;
INSERT INTO duplicate_versions
SELECT DISTINCT s.id, 'schools', p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, 2147483647), coalesce(b.valid_to, 2147483647)) AS hi
    FROM "schools" a JOIN "schools" b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi;
INSERT INTO duplicate_versions
SELECT DISTINCT s.id, 'students', p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, 2147483647), coalesce(b.valid_to, 2147483647)) AS hi
    FROM "students" a JOIN "students" b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi;
INSERT INTO duplicate_versions
SELECT DISTINCT s.id, 'contacts', p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, 2147483647), coalesce(b.valid_to, 2147483647)) AS hi
    FROM "contacts" a JOIN "contacts" b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi;
INSERT INTO duplicate_versions
SELECT DISTINCT s.id, 'teachers', p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, 2147483647), coalesce(b.valid_to, 2147483647)) AS hi
    FROM "teachers" a JOIN "teachers" b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi;
INSERT INTO duplicate_versions
SELECT DISTINCT s.id, 'sections', p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, 2147483647), coalesce(b.valid_to, 2147483647)) AS hi
    FROM "sections" a JOIN "sections" b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi;
INSERT INTO duplicate_versions
SELECT DISTINCT s.id, 'enrollments', p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, 2147483647), coalesce(b.valid_to, 2147483647)) AS hi
    FROM "enrollments" a JOIN "enrollments" b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi;
INSERT INTO duplicate_versions
SELECT DISTINCT s.id, 'staff', p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, 2147483647), coalesce(b.valid_to, 2147483647)) AS hi
    FROM "staff" a JOIN "staff" b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi;
INSERT INTO duplicate_versions
SELECT DISTINCT s.id, 'admins', p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, 2147483647), coalesce(b.valid_to, 2147483647)) AS hi
    FROM "admins" a JOIN "admins" b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi"""


def duplicate_versions_sql(entity: spec.Entity) -> str:
    """Every snapshot's duplicate versions of ``entity``, from pairs of overlapping versions."""
    never = 2**31 - 1
    return f"""
SELECT DISTINCT s.id, {quote_literal(entity.name)}, p.key, p.row_hash FROM (
    SELECT a.district, a.key, unnest([a.row_hash, b.row_hash]) AS row_hash,
        greatest(a.valid_from, b.valid_from) AS lo,
        least(coalesce(a.valid_to, {never}), coalesce(b.valid_to, {never})) AS hi
    FROM {quote_ident(entity.name)} a JOIN {quote_ident(entity.name)} b
        ON a.district = b.district AND a.key = b.key AND a.row_hash < b.row_hash
) p JOIN snapshots s ON s.district = p.district AND s.seq BETWEEN p.lo AND p.hi"""


# rosterlab.api: one row per API pull (the snapshot it made, version, district status, sharing
# scope as records served per step), its raw JSON pages (content-addressed in raw_files, so the
# snapshot can be re-derived), and each served record's Clever id beside its sis_id (one row per
# snapshot here; intervals of pulls since migration 17, API_ID_INTERVALS). Kept apart
# from the entity tables so an API snapshot's row hashes equal the upload's for equal data.
API_TABLES = """
CREATE TABLE api_pulls (
    snapshot_id INTEGER PRIMARY KEY,
    target VARCHAR NOT NULL,
    base_url VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    clever_district_id VARCHAR,
    district_state VARCHAR,
    sis_type VARCHAR,
    last_sync VARCHAR,
    pause_start VARCHAR,
    pause_end VARCHAR,
    scope MAP(VARCHAR, BIGINT) NOT NULL,
    pages INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    rate_limit_waits INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    event_cursor VARCHAR
);
CREATE TABLE api_pages (
    snapshot_id INTEGER NOT NULL,
    step VARCHAR NOT NULL,
    page INTEGER NOT NULL,
    uri VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    bytes BIGINT NOT NULL,
    records INTEGER NOT NULL
);
CREATE TABLE api_ids (
    snapshot_id INTEGER NOT NULL,
    entity VARCHAR NOT NULL,
    sis_id VARCHAR NOT NULL,
    clever_id VARCHAR NOT NULL
)"""


# What Clever does with each upload (rosterlab/store/outcomes.py): the outcome, its reason, the
# rows it skips ([[file, code, rows], ...] as JSON) and the district settings the snapshot was
# checked with (JSON), recorded when the snapshot is checked. ``districts.settings``: the
# district folder's district.toml (JSON) kept at ingest (rosterlab/store/district_settings.py).
OUTCOMES_TABLE = """
CREATE TABLE snapshot_outcomes (
    snapshot_id INTEGER PRIMARY KEY,
    outcome VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    skipped VARCHAR NOT NULL,
    settings VARCHAR NOT NULL
)"""


# Findings count records (rosterlab/spec/findings.py): a finding's records, rows and sample keys;
# ``finding_rows`` keeps, per snapshot, every row the checks found (the row-level list behind an
# aggregated finding, inserted set-based by the checks; ``batch`` numbers the check's queries);
# ``finding_places`` is where each
# finding of a snapshot sits, row by row where the rows are kept (fix rules' ``when``).
FINDING_ROWS = """
ALTER TABLE findings ADD COLUMN "count" BIGINT DEFAULT 1;
ALTER TABLE findings ADD COLUMN "rows" BIGINT DEFAULT 1;
ALTER TABLE findings ADD COLUMN sample_keys VARCHAR[] DEFAULT []::VARCHAR[];
CREATE TABLE finding_rows (
    batch INTEGER NOT NULL,
    snapshot_id INTEGER NOT NULL,
    file VARCHAR NOT NULL,
    code VARCHAR NOT NULL,
    entity VARCHAR,
    key VARCHAR,
    field VARCHAR,
    value VARCHAR,
    "row" BIGINT,
    cause VARCHAR,
    info VARCHAR
);
CREATE VIEW finding_places AS
    SELECT snapshot_id, code, entity, key, field, "row" FROM findings
    UNION ALL SELECT snapshot_id, code, entity, key, field, "row" FROM finding_rows"""


# How each parsed spec file was staged (rosterlab/store/staging.py), so re-staging a snapshot
# reads its kept raw files as they are instead of sniffing and counting them again:
# ``as_received``: the parser read the received bytes (UTF-8 without BOM, one line-break style);
# ``skipped``: data rows the parser did not keep (malformed, blank); ``dropped``: rows it kept
# that are malformed all the same (surplus empty fields). Snapshots ingested before this
# migration have no rows here and are re-staged by sniffing. No primary key, for the reason
# duplicate_versions has none (a rebuild re-inserts the same rows in one transaction).
FILE_STAGING_TABLE = """
CREATE TABLE file_staging (
    snapshot_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    as_received BOOLEAN NOT NULL,
    skipped BIGINT[] NOT NULL,
    dropped BIGINT[] NOT NULL
)"""


# The served objects of each district's newest API pull (rosterlab/store/api_pulls.py): what an
# events pull applies its events to instead of re-reading the base pull's kept pages.
# ``api_served_of`` names the pull they belong to; the pages stay the source of truth.
API_SERVED_TABLES = """
CREATE TABLE api_served (
    district VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    id VARCHAR,
    j JSON,
    v VARCHAR[]
);
CREATE TABLE api_served_of (
    district VARCHAR NOT NULL,
    snapshot_id INTEGER NOT NULL
)"""


# Where each staged file's rows sit as lines (rosterlab/spec/lines.py): the data rows whose
# quoted values hold line breaks (0 is the header) and how many each holds, so a fresh process
# renders a row as the line an editor shows. NULL for files staged before this migration: their
# lines are rendered as data row + 1 (what they were).
LINE_BREAKS = """
ALTER TABLE file_staging ADD COLUMN break_rows BIGINT[];
ALTER TABLE file_staging ADD COLUMN break_lines BIGINT[]"""


# How each field profile's pattern sample was drawn (rosterlab/checks/fields.py PROFILE_VERSION):
# profiles kept before this migration are version 1 (DuckDB's seeded reservoir sample of the
# staged rows); two nights' pattern mixes are compared only when drawn the same way.
PROFILE_VERSIONS = "ALTER TABLE field_profiles ADD COLUMN version INTEGER DEFAULT 1"


# Whether a profile's distinct count is a HyperLogLog estimate (a file over 100,000 rows whose
# column the checks kept no table of distinct values for): shown as such, never as exact. Kept
# profiles of files that big are marked estimated (some were exact; the reverse would mislead).
DISTINCT_ESTIMATED = """
ALTER TABLE field_profiles ADD COLUMN distinct_estimated BOOLEAN DEFAULT false;
UPDATE field_profiles SET distinct_estimated = "rows" > 100000"""


# The rows behind each finding kept as lists (rosterlab/checks/sql.py): a check stores one row
# per finding of an aggregated code (a value repeated over a column) and per record of another
# code, with the file rows (``rows``) and their record keys (``keys``) side by side, unordered;
# ``records`` (how many records the rows are) and ``first_keys`` (the keys of the first rows, at
# most 64, in file order) are what the check reads back. A Race column's 479,672 rows are two
# list columns of one row instead of 479,672 rows of 11 columns. ``finding_rows`` stays, as a
# view with the old table's columns (one row per file row); ``finding_places`` reads it. Rows
# kept before move into lists grouped by their batch, file, code, entity, field, value, cause
# and info (readers match rows by those, never by how they were grouped).
FINDING_ROW_LISTS = """
CREATE TABLE finding_row_lists (
    batch INTEGER NOT NULL,
    snapshot_id INTEGER NOT NULL,
    file VARCHAR NOT NULL,
    code VARCHAR NOT NULL,
    entity VARCHAR,
    field VARCHAR,
    value VARCHAR,
    cause VARCHAR,
    info VARCHAR,
    records BIGINT NOT NULL,
    first_keys VARCHAR[] NOT NULL,
    "rows" BIGINT[] NOT NULL,
    keys VARCHAR[] NOT NULL
);
INSERT INTO finding_row_lists
    SELECT batch, snapshot_id, file, code, entity, field, value, cause, info,
        count(DISTINCT key) + count(*) FILTER (WHERE key IS NULL),
        coalesce(min_by(key, "row", 64) FILTER (WHERE key IS NOT NULL), []), list("row"), list(key)
    FROM finding_rows GROUP BY ALL;
DROP VIEW finding_places;
DROP TABLE finding_rows;
CREATE VIEW finding_rows AS
    SELECT batch, snapshot_id, file, code, entity, unnest(keys) AS key, field, value,
        unnest("rows") AS "row", cause, info
    FROM finding_row_lists;
CREATE VIEW finding_places AS
    SELECT snapshot_id, code, entity, key, field, "row" FROM findings
    UNION ALL SELECT snapshot_id, code, entity, key, field, "row" FROM finding_rows"""


# Clever ids as intervals (rosterlab/api/mapping.py ``record_clever_ids``): per district, each
# (entity, sis_id, clever_id) with the API pulls that served it, ``[valid_from, valid_to]`` in the
# pulls' snapshot ids (``valid_to`` NULL while the district's newest pull serves it). The pulls of a
# district are its snapshots with an ``api_pulls`` row, in id order (the order they were pulled);
# upload snapshots between them are no part of an interval, and snapshot ids, unlike seqs, stay
# as they are when a replay inserts, moves or drops a night (ingest.py ``_replay``). A pull
# records its delta only: pairs new to it open a row, pairs it no longer serves are closed at the
# previous pull. ``api_ids_of(snapshot)`` is the one reader: the (entity, sis_id, clever_id) an
# API snapshot served, nothing for another snapshot. Rows kept per snapshot before move into
# intervals (runs of consecutive pulls); rows of a snapshot the store no longer holds, or that is
# no pull, are dropped.
API_ID_INTERVALS = """
CREATE TABLE api_id_intervals (
    district VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    sis_id VARCHAR NOT NULL,
    clever_id VARCHAR NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER
);
INSERT INTO api_id_intervals
    WITH pulls AS (
        SELECT s.district, p.snapshot_id,
            row_number() OVER (PARTITION BY s.district ORDER BY p.snapshot_id) AS n,
            max(p.snapshot_id) OVER (PARTITION BY s.district) AS newest
        FROM api_pulls p JOIN snapshots s ON s.id = p.snapshot_id
    ), served AS (
        SELECT DISTINCT p.district, i.entity, i.sis_id, i.clever_id, p.snapshot_id, p.n, p.newest
        FROM api_ids i JOIN pulls p ON p.snapshot_id = i.snapshot_id
    )
    SELECT district, entity, sis_id, clever_id, min(snapshot_id),
        CASE WHEN max(snapshot_id) = any_value(newest) THEN NULL ELSE max(snapshot_id) END
    FROM (
        SELECT *, n - row_number() OVER (
            PARTITION BY district, entity, sis_id, clever_id ORDER BY n) AS run
        FROM served
    ) GROUP BY district, entity, sis_id, clever_id, run;
DROP TABLE api_ids;
ALTER TABLE api_id_intervals RENAME TO api_ids;
CREATE MACRO api_ids_of(snapshot) AS TABLE
    SELECT i.entity, i.sis_id, i.clever_id
    FROM snapshots s JOIN api_ids i ON i.district = s.district
    WHERE s.id = snapshot AND s.id IN (SELECT snapshot_id FROM api_pulls)
        AND i.valid_from <= s.id AND (i.valid_to IS NULL OR i.valid_to >= s.id)"""
# When each API pull's event cursor was last known to miss no event (rosterlab/api/pull.py
# ``_event_base``): the pull's start, or a later pull's that found no event after it or whose
# state (pages, cursor) it took. Clever keeps events 30 days, so the events after the cursor are
# all still served while this is under 30 days old. Pulls kept before: their start.
CURSOR_CONFIRMED = """
ALTER TABLE api_pulls ADD COLUMN cursor_confirmed_at TIMESTAMP;
UPDATE api_pulls SET cursor_confirmed_at = started_at"""


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) in order; applied ones are recorded in ``schema_migrations``.

    Every text is frozen as applied: change the schema by adding a migration, never by editing
    one (a store that applied it would not see the edit).
    """
    return [
        (1, "base tables", BASE_TABLES),
        (2, "entity SCD2 tables", ENTITY_TABLES),
        (3, "pushes", PUSHES_TABLE),
        (4, "checks: ledger, field profiles, check runs", CHECKS_TABLES),
        (5, "raw file deltas", RAW_DELTAS),
        (6, "duplicate versions per snapshot", DUPLICATE_VERSIONS + DUPLICATE_VERSIONS_BACKFILL),
        (7, "api pulls, pages and Clever ids", API_TABLES),
        (
            8,
            "upload outcomes and the settings each snapshot was checked with",
            OUTCOMES_TABLE + ";\nALTER TABLE districts ADD COLUMN settings VARCHAR",
        ),
        (9, "findings count records: row-level finding lists", FINDING_ROWS),
        (10, "how each parsed file was staged", FILE_STAGING_TABLE),
        (11, "the served objects of each district's newest api pull", API_SERVED_TABLES),
        (12, "line breaks inside quoted values per staged file", LINE_BREAKS),
        (13, "the way each field profile's pattern sample was drawn", PROFILE_VERSIONS),
        (14, "whether a field profile's distinct count is an estimate", DISTINCT_ESTIMATED),
        (15, "the rows behind each finding kept as lists", FINDING_ROW_LISTS),
        (16, "raw blobs over 4 MiB kept in parts", RAW_PARTS),
        (17, "Clever ids as intervals of a district's api pulls", API_ID_INTERVALS),
        (18, "when each api pull's event cursor was last confirmed", CURSOR_CONFIRMED),
    ]
