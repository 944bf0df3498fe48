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
        f"held-out generations repeating {gate.memorised_ngram}+ tokens of one training reply",
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
    """No worse than the current version on what it already knew (the earlier rows)."""
    before, after = current.style_ppl, cand.style_ppl
    what = "style perplexity"
    if cand.style_new_rows and current.style_earlier_ppl and cand.style_earlier_ppl:
        before, after = current.style_earlier_ppl, cand.style_earlier_ppl
        what = "style perplexity on earlier memories"
    limit = before * (1 + gate.current_style_margin)
    return Check(
        "vs current",
        after <= limit,
        f"{after:.2f}",
        f"<= {limit:.2f} (current +{gate.current_style_margin:.0%} noise margin)",
        f"{what} {before:.2f} (current) -> {after:.2f}",
    )


def _learned_new(current: ModelMetrics, cand: ModelMetrics, gate: GateSettings) -> Check:
    """Better than the current version on replies from memories it never learned (the new month)."""
    before, after = current.style_new_ppl or 0.0, cand.style_new_ppl or 0.0
    return Check(
        "vs current: new memories",
        after < before,
        f"{after:.2f} ({cand.style_new_rows} held-out replies)",
        f"< {before:.2f} (current, which never learned them)",
        f"style perplexity on memories new since the current version {before:.2f} -> {after:.2f}",
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


def gate_checks(
    compared: dict[str, ModelMetrics],
    gate: GateSettings,
    method: str = "sft",
    new_since_current: bool = False,
) -> list[Check]:
    """The checks for a candidate. `new_since_current`: the rows marked new are new to the
    current version (the dataset was built against it), so the candidate must beat it there;
    a DPO candidate on an SFT version that already learned them is held to "no worse" only."""
    base, cand = compared["base"], compared["candidate"]
    checks = [
        _style(base, cand),
        _general(base, cand, gate),
        _probes(base, cand, gate),
        _memorisation(cand, gate),
        _leakage(cand),
    ]
    if "current" in compared:
        checks.append(_vs_current(compared["current"], cand, gate))
        if new_since_current and cand.style_new_rows:
            checks.append(_learned_new(compared["current"], cand, gate))
    if method == "dpo" and cand.preference_pairs:
        reference, against = (
            (compared["current"], "the current version")
            if "current" in compared
            else (base, "the base")
        )
        checks.append(_preference(reference, cand, against))
    return checks


def verdict(
    compared: dict[str, ModelMetrics],
    gate: GateSettings,
    method: str = "sft",
    new_since_current: bool = False,
) -> dict[str, Any]:
    """The decision and its checks; `failures` and `reasons` are the failed and passed lines."""
    checks = gate_checks(compared, gate, method, new_since_current)
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
