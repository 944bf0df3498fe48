"""The evaluation report in a version's folder: report.md, report.html, loss.png, evaluation.json."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from personaforge.evaluate.gate import checks_of
from personaforge.evaluate.measure import ModelMetrics
from personaforge.paths import Paths


@dataclass
class EvalReport:
    version: str
    compared: dict[str, ModelMetrics]  # "base", "candidate", and "current" when one is promoted
    verdict: dict[str, Any]
    generations: list[dict[str, str]] = field(default_factory=list)
    folder: Path | None = None
    current: str | None = None  # the version `current` stood for, if any


def loss_curve(folder: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = folder / "metrics.jsonl"
    if not metrics.exists():
        return None
    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
    evals = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
    figure, axis = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        axis.plot(*zip(*train, strict=True), label="train loss")
    if evals:
        axis.plot(*zip(*evals, strict=True), marker="o", label="held-out loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title(f"{folder.name}: loss")
    axis.legend()
    figure.tight_layout()
    path = folder / "loss.png"
    figure.savefig(path)
    plt.close(figure)
    return path


def _preference_cell(m: ModelMetrics) -> str:
    if not m.preference_pairs or m.preference_margin is None:
        return "-"
    return f"{m.preference_margin:+.3f} ({m.preference_win_rate or 0:.0%})"


def _facts_cell(m: ModelMetrics) -> str:
    if not m.facts:
        return "-"
    cell = f"{m.facts['accuracy']:.2f}"
    if "grounded" in m.facts:
        cell += f" ({m.facts['grounded']:.2f})"
    return cell


def metric_rows(report: EvalReport) -> tuple[list[str], list[list[str]]]:
    names = list(report.compared)
    m = report.compared
    rows = [
        ["style perplexity (held-out)", *[f"{m[n].style_ppl:.3f}" for n in names]],
        ["general perplexity", *[f"{m[n].general_ppl:.3f}" for n in names]],
        ["probes passed", *[f"{m[n].probes_passed}/{m[n].probes_total}" for n in names]],
        ["memorised share", *[f"{m[n].memorised_share:.0%}" for n in names]],
        ["leaks", *[", ".join(m[n].leaks) or "none" for n in names]],
    ]
    if any(m[n].facts for n in names):
        rows.append(["fact accuracy (with memories)", *[_facts_cell(m[n]) for n in names]])
    if any(m[n].preference_pairs for n in names):
        rows.append(["preference margin (win rate)", *[_preference_cell(m[n]) for n in names]])
    if all(m[n].loops for n in names):
        rows.append(["looping answers (4-gram 3+ times)", *[_loop_cell(m[n]) for n in names]])
        rows.append(["distinct-2", *[f"{m[n].loops['distinct_2']:.3f}" for n in names]])
    if any(m[n].voice for n in names):
        rows.append(["voice: win rate over base (p)", *[_voice_cell(m[n]) for n in names]])
        rows.append(["voice: gap closed [95% CI]", *[_gap_cell(m[n]) for n in names]])
        auc = next(m[n].voice["auc"] for n in names if m[n].voice)
        rows.append(["voice: classifier AUC", *[f"{auc:.3f}" for _ in names]])
    return ["metric", *names], rows


def _loop_cell(m: ModelMetrics) -> str:
    loops = m.loops or {}
    return f"{loops['share']:.0%} ({loops['looping']}/{loops['answers']})"


def _voice_cell(m: ModelMetrics) -> str:
    if not m.voice:
        return "-"
    return f"{m.voice['win_rate']:.0%} of {m.voice['n']} (p = {m.voice['p_value']:.2g})"


def _gap_cell(m: ModelMetrics) -> str:
    if not m.voice or m.voice["gap_closed"] is None:
        return "-"
    ci = m.voice["gap_closed_ci"]
    return f"{m.voice['gap_closed']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def check_rows(report: EvalReport) -> list[tuple[str, str]]:
    """(mark, line) for every check of the verdict, in the order they were made:
    ✓ passed, ✗ failed, – measured but not enforced."""
    return [(check.mark, check.line()) for check in checks_of(report.verdict)]


def worst_answers(report: EvalReport) -> list[tuple[str, dict[str, Any]]]:
    """(model, {answer, gram, count}): the most repetitive held-out answers of each model."""
    return [
        (name, item)
        for name, metrics in report.compared.items()
        for item in (metrics.loops or {}).get("worst", [])
    ]


def _markdown(report: EvalReport, curve: Path | None) -> str:
    header, rows = metric_rows(report)
    md = [f"# {report.version}: {report.verdict['decision'].upper()}", ""]
    if report.verdict.get("forced"):
        md += [f"**Promoted by hand against the gate** ({report.verdict['forced']}).", ""]
    md += [f"- {mark} {line}" for mark, line in check_rows(report)]
    md += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    if report.current:
        md += [
            "",
            f"`current` is {report.current}, the promoted version at the time of this evaluation.",
        ]
    if curve:
        md += ["", f"![loss curve]({curve.name})"]
    worst = worst_answers(report)
    if worst:
        md += ["", "## The most repetitive answers", ""]
        md += ["Held-out prompts, decoded as serve decodes; the 4-gram each repeats most.", ""]
        md += [
            f'- {name} ({item["count"]}x "{item["gram"]}"): {item["answer"]}'
            for name, item in worst
        ]
    md += ["", "## Base and candidate, side by side", ""]
    for item in report.generations:
        md += [
            f"**{item['prompt']}**",
            "",
            f"- base: {item['base']}",
            f"- candidate: {item['candidate']}",
            *([f"- candidate + memories: {item['grounded']}"] if "grounded" in item else []),
            "",
        ]
    return "\n".join(md) + "\n"


def _html(report: EvalReport, curve: Path | None) -> str:
    header, rows = metric_rows(report)
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    items = "".join(f"<li>{mark} {html.escape(line)}</li>" for mark, line in check_rows(report))
    worst = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{item['count']}x {html.escape(str(item['gram']))}</td>"
        f"<td>{html.escape(str(item['answer']))}</td></tr>"
        for name, item in worst_answers(report)
    )
    grounded = any("grounded" in g for g in report.generations)
    pairs = "".join(
        f"<tr><td>{html.escape(g['prompt'])}</td><td>{html.escape(g['base'])}</td>"
        f"<td>{html.escape(g['candidate'])}</td>"
        + (f"<td>{html.escape(g.get('grounded', ''))}</td>" if grounded else "")
        + "</tr>"
        for g in report.generations
    )
    decision = report.verdict["decision"].upper()
    return (
        f"<!doctype html><meta charset='utf-8'><title>{report.version} report</title>"
        f"<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td,th{{border:1px solid #ccc;"
        f"padding:.3em .6em;vertical-align:top}}table{{border-collapse:collapse}}</style>"
        f"<h1>{report.version}: {decision}</h1><ul>{items}</ul><table><tr>{cells}</tr>{body}</table>"
        + (f"<p><img src='{curve.name}' alt='loss curve'></p>" if curve else "")
        + (
            "<h2>The most repetitive answers</h2><table><tr><th>model</th><th>repeats</th>"
            f"<th>answer</th></tr>{worst}</table>"
            if worst
            else ""
        )
        + "<h2>Base and candidate, side by side</h2><table><tr><th>prompt</th><th>base</th>"
        + "<th>candidate</th>"
        + ("<th>candidate + memories</th>" if grounded else "")
        + f"</tr>{pairs}</table>"
    )


def write_report(report: EvalReport) -> None:
    from personaforge.atomic import atomic_write_text

    folder = report.folder
    assert folder is not None
    curve = loss_curve(folder)
    atomic_write_text(folder / "report.md", _markdown(report, curve))
    atomic_write_text(folder / "report.html", _html(report, curve))
    payload = {
        "version": report.version,
        "verdict": report.verdict,
        "metrics": {name: m.as_dict() for name, m in report.compared.items()},
        "generations": report.generations,
        "current": report.current,
    }
    atomic_write_text(folder / "evaluation.json", json.dumps(payload, indent=2) + "\n")


def metrics_from_dict(data: dict[str, Any]) -> ModelMetrics:
    known = {f.name for f in fields(ModelMetrics)}
    return ModelMetrics(**{k: v for k, v in data.items() if k in known})


def load_report(paths: Paths, version: str) -> EvalReport | None:
    """The saved evaluation of a version, or None when it was never evaluated."""
    path = paths.adapters / version / "evaluation.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    compared = {name: metrics_from_dict(metrics) for name, metrics in data["metrics"].items()}
    return EvalReport(
        version, compared, data["verdict"], data["generations"], path.parent, data.get("current")
    )
