"""The profile's records: a profile, a diff between two, and a probe's claims and result.

Plain data with their JSON forms, kept apart from the code that builds them
(build.py), asks the model (probe.py) and writes Markdown (render.py), so each
of those imports the records and none imports another to reach a class.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from personaforge.errors import UserError
from personaforge.profile.facts import Fact
from personaforge.profile.style import Style

SCHEMA_VERSION = 1


@dataclass
class Claim:
    question: str
    text: str
    verdict: str  # reproduces, stale, supported, unsupported
    facts: list[str] = field(default_factory=list)  # fact ids it names
    evidence: list[str] = field(default_factory=list)  # memory ids that bear it out
    missing: list[str] = field(default_factory=list)  # content words no memory had with the rest


@dataclass
class ProbeResult:
    version: str
    answers: list[dict[str, str]]  # {"question", "answer"}
    claims: list[Claim]
    uncheckable: int  # sentences too short or too vague to check

    @property
    def supported(self) -> list[Claim]:
        return [c for c in self.claims if c.verdict in ("reproduces", "supported")]

    @property
    def unsupported(self) -> list[Claim]:
        return [c for c in self.claims if c.verdict in ("unsupported", "stale")]

    def summary(self) -> dict[str, int]:
        counts = {v: 0 for v in ("reproduces", "supported", "stale", "unsupported")}
        for claim in self.claims:
            counts[claim.verdict] += 1
        return {**counts, "uncheckable": self.uncheckable, "questions": len(self.answers)}

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeResult:
        claims = [Claim(**c) for c in data["claims"]]
        return cls(data["version"], data["answers"], claims, data["uncheckable"])


@dataclass
class Profile:
    person: str
    version: str | None  # the adapter version the profile describes, if any
    as_of: str | None  # facts come from memories dated up to this day (None: all)
    built_at: str
    memories: int  # live memories read
    sources: dict[str, int]
    facts: list[Fact]
    style: Style | None = None
    probe: ProbeResult | None = None
    extractors: dict[str, Any] = field(default_factory=dict)
    privacy: dict[str, int] = field(default_factory=dict)

    def current(self) -> list[Fact]:
        return [f for f in self.facts if f.status == "current"]

    def fact(self, key: str) -> Fact | None:
        """The current fact of a single-valued key ('home_city'), if there is one."""
        return next((f for f in self.facts if f.key == key and f.status == "current"), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "person": self.person,
            "version": self.version,
            "as_of": self.as_of,
            "built_at": self.built_at,
            "memories": self.memories,
            "sources": self.sources,
            "facts": [f.as_dict() for f in self.facts],
            "style": self.style.as_dict() if self.style else None,
            "probe": self.probe.as_dict() if self.probe else None,
            "extractors": self.extractors,
            "privacy": self.privacy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        if data.get("schema") != SCHEMA_VERSION:
            raise UserError(
                f"profile schema {data.get('schema')} is not {SCHEMA_VERSION}; rebuild it"
            )
        return cls(
            person=data["person"],
            version=data["version"],
            as_of=data["as_of"],
            built_at=data["built_at"],
            memories=data["memories"],
            sources=data["sources"],
            facts=[Fact.from_dict(f) for f in data["facts"]],
            style=Style.from_dict(data["style"]) if data.get("style") else None,
            probe=ProbeResult.from_dict(data["probe"]) if data.get("probe") else None,
            extractors=data.get("extractors", {}),
            privacy=data.get("privacy", {}),
        )


@dataclass
class ProfileDiff:
    old: str  # what each side is: a version name or "home"
    new: str
    added: list[Fact]  # facts only the new profile has
    dropped: list[Fact]  # facts only the old profile has (their memories are gone or changed)
    superseded: list[Fact]  # current in the old profile, superseded in the new (new side's fact)
    changed: list[dict[str, Any]]  # single-valued keys whose current value changed

    def empty(self) -> bool:
        return not (self.added or self.dropped or self.superseded or self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "added": [f.as_dict() for f in self.added],
            "dropped": [f.as_dict() for f in self.dropped],
            "superseded": [f.as_dict() for f in self.superseded],
            "changed": self.changed,
        }
