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
from personaforge.evaluate.loops import stats_from_dict
from personaforge.evaluate.measure import ModelMetrics
from personaforge.evaluate.voice import AUC_FLOOR, VoiceScore, difference_interval, score_from_dict


@dataclass(frozen=True)
class Check:
    name: str  # "style", "forgetting: general text", ... (stable: tests and the registry use it)
    passed: bool
    measured: str  # the candidate's number, as shown
    threshold: str  # what it had to be, as shown
    detail: str  # one line a person reads
    # False: measured and reported, but too little evidence to decide (the voice score on
    # fewer than gate.min_voice_prompts prompts); it never rejects and is marked "–", not ✓.
    blocking: bool = True

    def line(self) -> str:
        return f"{self.name}: {self.detail} (measured {self.measured}; needs {self.threshold})"

    @property
    def mark(self) -> str:
        return "✓" if self.passed and self.blocking else ("–" if self.passed else "✗")


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


def _leakage(base: ModelMetrics, cand: ModelMetrics) -> Check:
    """Secrets and canaries from her data, asked for. A value the base, which never saw her
    data, says as well is a common string the detector took for a secret ("postgres" from
    `password: postgres` in a code note), not something training taught: it is reported,
    not counted. Metrics without value ids (older reports) count every kind."""
    said_by_base = set(base.leaked_ids)
    if cand.leaked_ids:
        counted = sorted({i.partition(":")[0] for i in cand.leaked_ids if i not in said_by_base})
        shared = sorted({i.partition(":")[0] for i in cand.leaked_ids if i in said_by_base})
    else:
        counted, shared = list(cand.leaks), []
    detail = "secrets and canaries asked for"
    if counted:
        detail += f"; generations revealed {', '.join(counted)}"
    if shared:
        detail += f"; the base says the same {', '.join(shared)} value too (not counted)"
    return Check("leakage", not counted, ", ".join(counted) or "none", "none", detail)


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


def _looping(base: ModelMetrics, cand: ModelMetrics, gate: GateSettings) -> Check:
    b, c = stats_from_dict(base.loops), stats_from_dict(cand.loops)
    assert b is not None and c is not None
    limit = b.share + gate.max_loop_increase
    return Check(
        "looping",
        c.share <= limit + 1e-9,
        f"{c.share:.0%} ({c.looping}/{c.answers}), distinct-2 {c.distinct_2:.2f}",
        f"<= {limit:.0%} (base {b.share:.0%} + {gate.max_loop_increase * 100:g} points)",
        f"held-out answers repeating a 4-gram 3+ times {b.share:.0%} -> {c.share:.0%}; "
        f"distinct-2 {b.distinct_2:.2f} -> {c.distinct_2:.2f}",
    )


def _voice_numbers(v: VoiceScore) -> str:
    gap = "n/a" if v.gap_closed is None else f"{v.gap_closed:.2f}"
    if v.gap_closed_ci:
        gap += f" [{v.gap_closed_ci[0]:.2f}, {v.gap_closed_ci[1]:.2f}]"
    return f"win rate {v.win_rate:.0%} of {v.n}, p = {v.p_value:.2g}; gap closed {gap}"


def _voice(cand: ModelMetrics, gate: GateSettings) -> Check:
    v = score_from_dict(cand.voice)
    assert v is not None
    needs = (
        f">= {gate.min_voice_win_rate:.0%} with p < {gate.max_voice_p_value:g} "
        f"(enforced from {gate.min_voice_prompts} prompts and AUC {AUC_FLOOR})"
    )
    detail = "authorship classifier on decoded answers: persona over base, same prompts"
    if not v.measurable:
        return Check(
            "voice",
            True,
            f"not measurable (AUC {v.auc:.2f} < {AUC_FLOOR})",
            needs,
            detail + "; the classifier cannot tell the person apart, so it is not enforced",
            blocking=False,
        )
    measured = f"{_voice_numbers(v)}; AUC {v.auc:.2f}"
    if v.n < gate.min_voice_prompts:
        return Check(
            "voice",
            True,
            measured,
            needs,
            detail + f"; {v.n} prompts are too few to enforce",
            blocking=False,
        )
    return Check(
        "voice",
        v.win_rate >= gate.min_voice_win_rate and v.p_value < gate.max_voice_p_value,
        measured,
        needs,
        detail,
    )


def _voice_vs_current(current: ModelMetrics, cand: ModelMetrics, gate: GateSettings) -> Check:
    """The candidate's voice against the current version's, on the same prompts, within noise.

    Noise is measured, not assumed: the bootstrap 95% interval of the mean per-prompt
    difference s(candidate) - s(current). Rejected only when the whole interval is below 0.
    """
    c, k = score_from_dict(cand.voice), score_from_dict(current.voice)
    assert c is not None and k is not None
    mean, low, high = difference_interval(c.scores, k.scores, seed=0)
    enforced = c.measurable and c.n >= gate.min_voice_prompts
    return Check(
        "voice vs current",
        high >= 0 or not enforced,
        f"{mean:+.3f} [{low:+.3f}, {high:+.3f}]",
        "an interval reaching 0 or above (worse only within noise)",
        f"mean authorship score {k.mean_model:.3f} (current) -> {c.mean_model:.3f}, "
        "difference per prompt with its bootstrap 95% interval"
        + ("" if enforced else "; not enforced (too few prompts or AUC below the floor)"),
        blocking=enforced,
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
        blocking=limit is not None,
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
        _leakage(base, cand),
    ]
    if base.loops and cand.loops:
        checks.append(_looping(base, cand, gate))
    if cand.voice:
        checks.append(_voice(cand, gate))
    if cand.facts:
        checks.append(_knows(cand, gate))
    if "current" in compared:
        checks.append(_vs_current(compared["current"], cand, gate))
        if new_since_current and cand.style_new_rows:
            checks.append(_learned_new(compared["current"], cand, gate))
        current = compared["current"]
        if (
            cand.voice
            and current.voice
            and len(cand.voice["scores"]) == len(current.voice["scores"])
        ):
            checks.append(_voice_vs_current(current, cand, gate))
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
    """The decision and its checks; `failures` and `reasons` are the failed and passed lines,
    `notes` the lines measured but not enforced (too little evidence to decide)."""
    checks = gate_checks(compared, gate, method, new_since_current)
    failed = [c for c in checks if not c.passed]
    return {
        "decision": "reject" if failed else "promote",
        "checks": [asdict(c) for c in checks],
        "failures": [c.line() for c in failed],
        "reasons": [c.line() for c in checks if c.passed and c.blocking],
        "notes": [c.line() for c in checks if c.passed and not c.blocking],
    }


def checks_of(verdict_: dict[str, Any]) -> list[Check]:
    """The checks of a saved verdict (older verdicts without checks give none)."""
    return [Check(**c) for c in verdict_.get("checks", [])]
