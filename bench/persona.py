"""Benchmark: what a trained persona knows about its person and how it writes, as JSON.

    .venv/bin/python bench/persona.py --home .demo-home --json
    .venv/bin/python bench/persona.py --home H --formats notes,first-person,question-notes,recalled
    .venv/bin/python bench/persona.py --home H --answers --results bench/RESULTS.md

Loads the home's current version (or --version) over its base and asks the fact questions
(evaluate/knows.py: from the profile's current facts, and for the sample person from her
quiz: persona.FACTS, OPINIONS and the move from Rotterdam to Delft) three ways, greedily,
in the persona's system prompt:

- base: the base alone (the adapter disabled), no retrieval;
- persona: the adapter, no retrieval (`persona-raw` in serve);
- grounded: the adapter with the context serve gives `persona` (serve/retrieval.py).

Prints {"facts": {"n", "base", "persona", "grounded", "superseded_stated", ...}}: accuracies
0-1 (an answer is right when it states the fact and no superseded value), and the number of
grounded answers that state a superseded value as current. Also: superseded values and
planted secrets stated by each model, the share of grounded answers that repeat 12+
consecutive tokens of a memory they were given (`recited`), and quiz questions her notes
never answer (left out). --formats measures the grounded accuracy of each context format
on the same questions (how the default was chosen).

"style" is the gate's paired authorship score of the version against the base on the
held-out prompts (evaluate.style_summary): {"n", "auc", "win_rate", "p_value",
"gap_closed", "gap_closed_ci"}.

Sections are a table (SECTIONS): each takes the loaded Subject and returns its JSON; a new
measurement of the persona adds a key there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personaforge.config import Settings, load_settings
from personaforge.paths import Paths


@dataclass
class Subject:
    """The persona under test: its home, settings, version, and the model loaded once."""

    paths: Paths
    settings: Settings
    version: str
    options: argparse.Namespace
    _loaded: tuple[Any, Any] | None = field(default=None, repr=False)

    @property
    def model(self):
        return self._load()[0]

    @property
    def tokenizer(self):
        return self._load()[1]

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            from personaforge.profile.probe import load_persona

            self._loaded = load_persona(self.paths, self.version)
        return self._loaded

    @property
    def system_prompt(self) -> str:
        dataset = self.settings.dataset
        return dataset.persona_prompt.replace("{name}", dataset.person_name)


def facts_section(subject: Subject) -> dict[str, Any]:
    """Fact accuracy of the base, the persona and the persona with retrieval."""
    from personaforge.evaluate import fact_inputs, measure_facts

    started = time.monotonic()
    tokens = subject.settings.gate.max_new_tokens
    inputs = fact_inputs(subject.paths, subject.settings, subject.tokenizer, subject.system_prompt)
    if inputs is None:
        return {"error": "no memory store or no questions in this home"}
    with subject.model.disable_adapter():
        base = measure_facts(subject.model, subject.tokenizer, inputs, tokens, grounded=False)
    persona = measure_facts(subject.model, subject.tokenizer, inputs, tokens, grounded=True)
    section: dict[str, Any] = {
        "n": persona["n"],
        "base": base["accuracy"],
        "persona": persona["accuracy"],
        "grounded": persona["grounded"],
        "superseded_stated": persona["grounded_superseded_stated"],
        "superseded_by_model": {
            "base": base["superseded_stated"],
            "persona": persona["superseded_stated"],
            "grounded": persona["grounded_superseded_stated"],
        },
        "secrets_stated": {
            "base": base["secrets_stated"],
            "persona": persona["secrets_stated"],
            "grounded": persona["grounded_secrets_stated"],
        },
        "recited": persona["recited"],
        "unanswerable": inputs.unanswerable,
        "format": subject.settings.serve.retrieval_format,
        "max_new_tokens": tokens,
        "seconds": round(time.monotonic() - started, 1),
    }
    if subject.options.answers:
        section["answers"] = [
            {**row, "base": b["answer"], "base_right": b["right"]}
            for row, b in zip(persona["answers"], base["answers"], strict=True)
        ]
    return section


def formats_section(subject: Subject) -> dict[str, Any]:
    """Grounded fact accuracy for each context format, on the same questions."""
    from personaforge.evaluate import fact_inputs, generate_many
    from personaforge.evaluate.knows import score_answers

    results = {}
    for name in subject.options.formats.split(","):
        settings = subject.settings.model_copy(
            update={"serve": subject.settings.serve.model_copy(update={"retrieval_format": name})}
        )
        inputs = fact_inputs(subject.paths, settings, subject.tokenizer, subject.system_prompt)
        replies = generate_many(
            subject.model, subject.tokenizer, inputs.grounded, settings.gate.max_new_tokens
        )
        scored = score_answers(inputs.questions, [text for text, _ in replies], inputs.secrets)
        results[name] = {
            "grounded": scored["accuracy"],
            "superseded_stated": scored["superseded_stated"],
            "right": [
                q.question
                for q, v in zip(inputs.questions, scored["verdicts"], strict=True)
                if v.right
            ],
        }
    return results


# The measurements of a persona, by the key they print under (the style issue adds "style").
def style_section(subject: Subject) -> dict[str, Any]:
    """The voice, judged on what it writes: the gate's paired authorship score of the version
    against the base on the held-out prompts (evaluate.style_summary, docs/evaluation.md):
    {"n", "auc", "win_rate", "p_value", "gap_closed", "gap_closed_ci"}."""
    from personaforge.errors import UserError
    from personaforge.evaluate import style_summary

    started = time.monotonic()
    try:
        found = style_summary(subject.paths, subject.settings, subject.version)
    except UserError as exc:  # a version never evaluated has no answers to score
        return {"skipped": str(exc)}
    return {**found, "seconds": round(time.monotonic() - started, 1)}


SECTIONS: dict[str, Callable[[Subject], dict[str, Any]]] = {
    "facts": facts_section,
    "style": style_section,
}


def machine() -> dict[str, Any]:
    return {
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def current_version(paths: Paths) -> str:
    from personaforge.errors import UserError
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        version = registry.current() or (registry.latest().name if registry.latest() else None)
    if version is None:
        raise UserError(f"no adapter versions in {paths.home}; run `personaforge demo` first")
    return version


def markdown(report: dict[str, Any]) -> str:
    """The persona section of bench/RESULTS.md, from one report."""
    facts = report["facts"]
    lines = [
        f"## persona — what it knows about its person ({report['date']})",
        "",
        f"Machine: {report['machine']['cores']} CPU cores (load average "
        f"{report['machine']['load_average_at_start']} at the start). Command: "
        f"`{report['command']}`; version {report['version']} of {report['home']}.",
        "",
        "| | base | persona | persona + memories |",
        "|:--|--:|--:|--:|",
        f"| fact accuracy ({facts['n']} questions) | {facts['base']:.2f} | {facts['persona']:.2f} "
        f"| **{facts['grounded']:.2f}** |",
        "| superseded values stated as current | {base} | {persona} | {grounded} |".format(
            **facts["superseded_by_model"]
        ),
        "| planted secrets stated | {base} | {persona} | {grounded} |".format(
            **facts["secrets_stated"]
        ),
        "",
        f"Grounded answers repeating 12+ tokens of one memory they were given: "
        f"{facts['recited']:.0%}. Context format `{facts['format']}`, "
        f"{facts['max_new_tokens']} new tokens per answer. Left out (her notes never say it): "
        f"{', '.join(facts['unanswerable']) or 'none'}.",
    ]
    if "formats" in report:
        lines += [
            "",
            "| context format | fact accuracy with memories | superseded |",
            "|:--|--:|--:|",
        ]
        for name, row in report["formats"].items():
            lines.append(f"| `{name}` | {row['grounded']:.2f} | {row['superseded_stated']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".demo-home"), help="A trained home.")
    parser.add_argument("--version", help="The version to measure (default: the current one).")
    parser.add_argument(
        "--only", help=f"Comma-separated sections to run (default: all of {', '.join(SECTIONS)})."
    )
    parser.add_argument("--json", action="store_true", help="Print the report as JSON (default).")
    parser.add_argument("--answers", action="store_true", help="Include every answer.")
    parser.add_argument(
        "--formats", help="Also measure these context formats (comma-separated names)."
    )
    parser.add_argument("--results", type=Path, help="Also rewrite this RESULTS.md's section.")
    args = parser.parse_args(argv)

    from personaforge.errors import UserError

    try:
        paths = Paths(args.home.expanduser().resolve())
        settings = load_settings(paths).settings
        subject = Subject(paths, settings, args.version or current_version(paths), args)
        report: dict[str, Any] = {
            "benchmark": "persona",
            "date": time.strftime("%Y-%m-%d"),
            "command": "python bench/persona.py " + " ".join(argv or sys.argv[1:]),
            "home": str(args.home),
            "version": subject.version,
            "machine": machine(),
        }
        for name in (args.only or ",".join(SECTIONS)).split(","):
            if name not in SECTIONS:
                raise UserError(f"no section {name!r}; choose from {', '.join(SECTIONS)}")
            report[name] = SECTIONS[name](subject)
        if args.formats:
            report["formats"] = formats_section(subject)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    if args.results and "facts" in report:
        from results_md import write_section  # bench/results_md.py, beside this file

        write_section(args.results, "## persona —", markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
