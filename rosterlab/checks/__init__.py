"""Checks: every Clever rule as a finding, broken references grouped by root cause, field
customizations over time and the district's customization ledger.

>>> night = ingest_and_check(store, bundle, district="maple", known=settings)  # the pipeline
>>> result = run_checks(store, snapshot_id)       # cached per snapshot in the store
>>> result.summary(), result.groups[0]            # the cause that breaks the most records first
>>> field_matrix(store, "maple")                  # the field × night matrix and its flags
>>> add_override(store, "maple", entity="students", key="S-1", field="First_name",
...              value="Bo", reason="preferred name")
"""

from rosterlab.checks.fields import (
    FieldMatrix,
    FieldProfile,
    FieldRow,
    field_changes,
    field_matrix,
    snapshot_profiles,
)
from rosterlab.checks.filters import FindingFilter, FindingGroup, finding_groups
from rosterlab.checks.ledger import Override, add_override, overrides, remove_override
from rosterlab.checks.model import Check, CheckResult, CheckSettings, Group, group_by_cause
from rosterlab.checks.pipeline import (
    CheckedNight,
    check_ingested,
    ingest_and_check,
    ingest_history,
)
from rosterlab.checks.run import CHECKS, previous_snapshot, run_checks

__all__ = [
    "CHECKS",
    "Check",
    "CheckResult",
    "CheckSettings",
    "CheckedNight",
    "FieldMatrix",
    "FieldProfile",
    "FieldRow",
    "FindingFilter",
    "FindingGroup",
    "Group",
    "Override",
    "add_override",
    "check_ingested",
    "field_changes",
    "field_matrix",
    "finding_groups",
    "group_by_cause",
    "ingest_and_check",
    "ingest_history",
    "overrides",
    "previous_snapshot",
    "remove_override",
    "run_checks",
    "snapshot_profiles",
]
