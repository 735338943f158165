"""Which findings a support engineer asked for: by code, severity, entity and root cause.

One filter for ``check --code/--severity/--entity/--cause``, the findings browser and the CSV
export; an empty set means "any".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from rosterlab import spec
from rosterlab.checks.model import CheckResult, group_by_cause
from rosterlab.errors import ConfigError
from rosterlab.spec import Finding


@dataclass(frozen=True)
class FindingFilter:
    """Findings whose code, severity, entity and cause are each in the set given (if any)."""

    codes: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()
    causes: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        *,
        codes: Iterable[str] = (),
        severities: Iterable[str] = (),
        entities: Iterable[str] = (),
        causes: Iterable[str] = (),
    ) -> FindingFilter:
        """A filter from user input; an unknown code, severity or entity is a ConfigError."""
        chosen = cls(
            frozenset(codes), frozenset(severities), frozenset(entities), frozenset(causes)
        )
        for kind, given, known in (
            ("finding code", chosen.codes, spec.CATALOGUE),
            ("severity", chosen.severities, spec.SEVERITIES),
            ("entity", chosen.entities, spec.ENTITIES),
        ):
            unknown = sorted(set(given) - set(known))
            if unknown:
                raise ConfigError(
                    f"unknown {kind} {', '.join(unknown)}: use one of {', '.join(sorted(known))}"
                )
        return chosen

    @property
    def active(self) -> bool:
        return bool(self.codes or self.severities or self.entities or self.causes)

    def matches(self, f: Finding) -> bool:
        return (
            (not self.codes or f.code in self.codes)
            and (not self.severities or f.severity in self.severities)
            and (not self.entities or f.entity in self.entities)
            and (not self.causes or f.cause in self.causes)
        )

    def apply(self, result: CheckResult) -> CheckResult:
        """The result with only the matching findings (root-cause groups regrouped)."""
        if not self.active:
            return result
        kept = tuple(f for f in result.findings if self.matches(f))
        return replace(result, findings=kept, groups=group_by_cause(kept))

    def describe(self) -> str:
        """``code missing-file; severity error`` (empty when nothing is filtered)."""
        parts = [
            f"{name} {', '.join(sorted(values))}"
            for name, values in (
                ("code", self.codes),
                ("severity", self.severities),
                ("entity", self.entities),
                ("cause", self.causes),
            )
            if values
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class FindingGroup:
    """Findings shown together: one root cause, or one code for findings without a cause."""

    label: str
    cause: str | None
    code: str | None
    records: int
    hint: str | None = None  # a root cause's one hint (None: each finding's own)

    def holds(self, f: Finding) -> bool:
        return (
            f.cause == self.cause
            if self.cause is not None
            else (f.cause is None and f.code == self.code)
        )


def finding_groups(result: CheckResult) -> list[FindingGroup]:
    """Root causes first (the one breaking the most records first), then codes without a cause."""
    groups = [
        FindingGroup(
            f"{g.cause} — breaks {spec.plural(g.count, 'record')}: {', '.join(g.codes)}",
            g.cause,
            None,
            g.count,
            g.hint,
        )
        for g in result.groups
    ]
    loose = [f for f in result.findings if f.cause is None]
    counts = Counter(f.code for f in loose)
    order = sorted(counts, key=lambda c: (spec.SEVERITY_RANK[spec.CATALOGUE[c].severity], c))
    groups += [
        FindingGroup(
            f"{spec.CATALOGUE[c].severity} {c} — {spec.plural(counts[c], 'finding')}",
            None,
            c,
            counts[c],
        )
        for c in order
    ]
    return groups
