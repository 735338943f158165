"""Corrections: declarative rules → a corrected, re-checked Clever bundle with a change log.

>>> rules = load_rules("maple.rules.toml", district="maple")
>>> result = fix_snapshot(store, snapshot_id, rules, "out/maple-fixed")
>>> result.ok, result.after["error"], result.hold.predicted
"""

from rosterlab.fix.corrected import FixResult, RuleOutcome, WrittenFile, fix_snapshot
from rosterlab.fix.hold import HoldPrediction, predict_hold
from rosterlab.fix.recheck import (
    Checked,
    Verdict,
    bundle_verdict,
    check_folder,
)
from rosterlab.fix.rules import OPS, Rule, RuleSet, load_rules, parse_rules

__all__ = [
    "OPS",
    "Checked",
    "FixResult",
    "HoldPrediction",
    "Rule",
    "RuleOutcome",
    "RuleSet",
    "Verdict",
    "WrittenFile",
    "bundle_verdict",
    "check_folder",
    "fix_snapshot",
    "load_rules",
    "parse_rules",
    "predict_hold",
]
