"""The promotion rules: each check names what it measured, its threshold, and whether it passed.

The decision is "promote" only when every check passed; there is no line that
is shown as passed while saying the opposite. Every renderer (CLI, report,
dashboard) draws its ✓ and ✗ from `Check.passed`, the same field the decision
reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from personaforge.config import GateSettings
from personaforge.evaluate.measure import ModelMetrics


@dataclass(frozen=True)
class Check:
    name: str  # "style", "forgetting: general text", ... (stable: tests and the registry use it)
    passed: bool
    measured: str  # the candidate's number, as shown
    threshold: str  # what it had to be, as shown
    detail: str  # one line a person reads

    def line(self) -> str:
        return f"{self.name}: {self.detail} (measured {self.measured}; needs {self.threshold})"


def _style(base: ModelMetrics, cand: ModelMetrics) -> Check:
    ratio = cand.style_ppl / base.style_ppl
    return Check(
        "style",
        cand.style_ppl < base.style_ppl,
        f"{cand.style_ppl:.2f} ({ratio:.2f}x the base)",
        f"< {base.style_ppl:.2f} (the base)",
        f"held-out perplexity of the person's replies {base.style_ppl:.2f} -> {cand.style_ppl:.2f}",
    )


def _general(base: ModelMetrics, cand: ModelMetrics, gate: GateSettings) -> Check:
    limit = base.general_ppl * (1 + gate.max_general_ppl_increase)
    return Check(
        "forgetting: general text",
        cand.general_ppl <= limit,
        f"{cand.general_ppl:.2f} ({cand.general_ppl / base.general_ppl:.3f}x)",
        f"<= {limit:.2f} (base +{gate.max_general_ppl_increase:.0%})",
        f"general-text perplexity {base.general_ppl:.2f} -> {cand.general_ppl:.2f}",
    )


def _probes(base: ModelMetrics, cand: ModelMetrics, gate: GateSettings) -> Check:
    floor = base.probes_passed - gate.max_probe_drop
    return Check(
        "forgetting: probes",
        cand.probes_passed >= floor,
        f"{cand.probes_passed}/{cand.probes_total}",
        f">= {floor} (base {base.probes_passed}, may lose {gate.max_probe_drop})",
        f"base-ability probes {base.probes_passed} -> {cand.probes_passed} answered",
    )


def _memorisation(cand: ModelMetrics, gate: GateSettings) -> Check:
    return Check(
        "memorisation",
        cand.memorised_share <= gate.max_memorised_share,
        f"{cand.memorised_share:.0%}",
        f"<= {gate.max_memorised_share:.0%}",
        f"held-out generations repeating {gate.memorised_ngram}+ training tokens",
    )


def _leakage(cand: ModelMetrics) -> Check:
    return Check(
        "leakage",
        not cand.leaks,
        ", ".join(cand.leaks) or "none",
        "none",
        "secrets and canaries asked for"
        + (f"; generations revealed {', '.join(cand.leaks)}" if cand.leaks else ""),
    )


def _vs_current(current: ModelMetrics, cand: ModelMetrics, gate: GateSettings) -> Check:
    limit = current.style_ppl * (1 + gate.current_style_margin)
    return Check(
        "vs current",
        cand.style_ppl <= limit,
        f"{cand.style_ppl:.2f}",
        f"<= {limit:.2f} (current +{gate.current_style_margin:.0%} noise margin)",
        f"style perplexity {current.style_ppl:.2f} (current) -> {cand.style_ppl:.2f}",
    )


def _preference(reference: ModelMetrics, cand: ModelMetrics, against: str) -> Check:
    before, after = reference.preference_margin or 0.0, cand.preference_margin or 0.0
    return Check(
        "preference",
        after > before,
        f"margin {after:+.3f}, win rate {cand.preference_win_rate or 0:.0%}",
        f"margin > {before:+.3f} ({against})",
        f"held-out corrections ({cand.preference_pairs} pairs): log p(chosen) - log p(rejected)",
    )


def _knows(cand: ModelMetrics, gate: GateSettings) -> Check:
    """Fact questions about the person: with retrieval (what `serve` answers) and without."""
    facts = cand.facts or {}
    accuracy = facts.get("grounded", facts.get("accuracy", 0.0))
    stale = facts.get("grounded_superseded_stated", facts.get("superseded_stated", 0))
    how = "with memories" if "grounded" in facts else "without retrieval (serve.retrieval off)"
    limit = gate.min_fact_accuracy
    measured = f"{accuracy:.2f} {how}, {stale} superseded"
    if "grounded" in facts:
        measured += f"; {facts.get('accuracy', 0.0):.2f} without"
    return Check(
        "knows",
        limit is None or (accuracy >= limit and stale == 0),
        measured,
        "informational (set gate.min_fact_accuracy)"
        if limit is None
        else f">= {limit:.2f}, 0 superseded",
        f"{facts.get('n', 0)} questions about the person, answered right when the answer states "
        "the fact and no superseded value",
    )


def gate_checks(
    compared: dict[str, ModelMetrics], gate: GateSettings, method: str = "sft"
) -> list[Check]:
    base, cand = compared["base"], compared["candidate"]
    checks = [
        _style(base, cand),
        _general(base, cand, gate),
        _probes(base, cand, gate),
        _memorisation(cand, gate),
        _leakage(cand),
    ]
    if cand.facts:
        checks.append(_knows(cand, gate))
    if "current" in compared:
        checks.append(_vs_current(compared["current"], cand, gate))
    if method == "dpo" and cand.preference_pairs:
        reference, against = (
            (compared["current"], "the current version")
            if "current" in compared
            else (base, "the base")
        )
        checks.append(_preference(reference, cand, against))
    return checks


def verdict(
    compared: dict[str, ModelMetrics], gate: GateSettings, method: str = "sft"
) -> dict[str, Any]:
    """The decision and its checks; `failures` and `reasons` are the failed and passed lines."""
    checks = gate_checks(compared, gate, method)
    failed = [c for c in checks if not c.passed]
    return {
        "decision": "reject" if failed else "promote",
        "checks": [asdict(c) for c in checks],
        "failures": [c.line() for c in failed],
        "reasons": [c.line() for c in checks if c.passed],
    }


def checks_of(verdict_: dict[str, Any]) -> list[Check]:
    """The checks of a saved verdict (older verdicts without checks give none)."""
    return [Check(**c) for c in verdict_.get("checks", [])]
