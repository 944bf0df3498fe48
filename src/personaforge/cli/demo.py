"""`personaforge demo`: the whole job on a built-in base and the sample person."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from personaforge.cli.app import app, examples, get_state
from personaforge.cli.base import print_base_card
from personaforge.cli.run import STATUS_MARKS, StageReporter, finish_line
from personaforge.ui import stdout

# How wide a column of answers may get before it wraps: a person reads these side by side.
ANSWER_WIDTH = 300


@app.command(
    epilog=examples(
        "make demo",
        "personaforge demo",
        "personaforge demo --base tiny:micro   # the seconds-long machinery check",
        "personaforge demo --data-only ./sample-person",
        "make demo-forget   # then: take one correction back out of every model",
        "make demo-month    # then: the next month of her life, and the monthly cycle on it",
    )
)
def demo(
    ctx: typer.Context,
    base: Annotated[
        str,
        typer.Option(
            help="Built-in base: smollm2-135m (a real small chat model), tiny or tiny:micro."
        ),
    ] = "smollm2-135m",
    data_only: Annotated[
        Path | None,
        typer.Option(
            "--data-only", metavar="DIR", help="Only write the sample person's data into DIR."
        ),
    ] = None,
    fresh_data: Annotated[
        bool, typer.Option("--fresh-data", help="Rewrite the sample data even if it exists.")
    ] = False,
    forget: Annotated[
        bool,
        typer.Option(
            "--forget",
            help="In a home the demo ran in: forget one sample correction, retrain, verify.",
        ),
    ] = False,
    add_month: Annotated[
        bool,
        typer.Option(
            "--add-month",
            help="In a home the demo ran in: write the next month of her life and run the "
            "monthly cycle on it.",
        ),
    ] = False,
) -> None:
    """Run the whole job on a built-in base and a generated sample person.

    Builds (or reuses) the base, writes the sample person's data, configures the
    home for it, runs `personaforge run` (ingest to profile) showing each stage as
    it ends, serves the result, and prints the base's and the persona's answers
    side by side.
    """
    from personaforge.sample import write_sample_data

    if data_only is not None:
        manifest = write_sample_data(data_only, overwrite=fresh_data)
        print_manifest(data_only, manifest)
        return
    if forget:
        _forget_step(get_state(ctx).paths)
        return
    if add_month:
        _month_step(get_state(ctx).paths)
        return
    from personaforge.demo import demo_settings_for, run_demo

    demo_settings_for(base)  # an unknown base fails here, before any work
    paths = get_state(ctx).paths
    stdout.rule(f"[bold]personaforge demo[/] on {base}, home {paths.home}", align="left")
    result = run_demo(paths, base, fresh_data, StageReporter(), _print_step)
    print_outcome(result, paths.home)
    if result.record is not None and result.record.status in ("failed", "interrupted"):
        raise typer.Exit(1)


def _forget_step(paths) -> None:
    from personaforge.cli.forget import print_forget
    from personaforge.demo import forget_in_demo

    stdout.rule(f"[bold]personaforge demo --forget[/], home {paths.home}", align="left")
    report = forget_in_demo(paths, StageReporter())
    print_forget(report)
    if report.proven is not True:
        raise typer.Exit(1)


def _month_step(paths) -> None:
    from personaforge.demo import add_month_in_demo

    stdout.rule(f"[bold]personaforge demo --add-month[/], home {paths.home}", align="left")
    result = add_month_in_demo(paths, StageReporter())
    stdout.rule()
    finish_line(result.record)
    stdout.print(f"  {result.month}: served {result.before or 'nothing'} -> {result.after}")
    if len(result.on_month) == 2:
        before, after = result.on_month["current"], result.on_month["candidate"]
        stdout.print(
            f"  style perplexity on {result.month}'s held-out replies: {before:.2f} "
            f"({result.before}, which never saw them) -> {after:.2f} (the new version)"
        )
    if result.record.status in ("failed", "interrupted"):
        raise typer.Exit(1)


def _print_step(name: str, result) -> None:
    seconds = result.timings.get(name, 0)
    if name == "base":
        stdout.rule(f"[bold]base[/]: {result.base}", align="left")
        print_base_card(result.base_folder, result.base_card)
        stdout.print("  its greedy answers, through AutoModelForCausalLM and its chat template:")
        for question, answer in result.answers:
            stdout.print(f"    {question}  ->  {answer}", markup=False)
    elif name == "sample data":
        stdout.rule("[bold]sample data[/]", align="left")
        print_manifest(result.data_dir, result.manifest)
    elif name == "run":
        stdout.rule()
        finish_line(result.record)
    elif name == "serve":
        stdout.rule("[bold]serve[/]: the OpenAI-compatible API on 127.0.0.1", align="left")
        for model, question, answer in result.conversation:
            stdout.print(f"  {model} <- {question}", markup=False)
            stdout.print(f"    {answer}", markup=False, soft_wrap=True)
        if result.grounded_sources:
            stdout.print("  the grounded answer was given:", markup=False)
            for source in result.grounded_sources:
                stdout.print(f"    {source}", markup=False, soft_wrap=True)
        if not result.conversation:
            stdout.print("  skipped: no version was promoted, so there is no persona to serve")
    stdout.print(f"[dim]{name}: {seconds:.1f} s[/]")


def print_outcome(result, home: Path) -> None:
    if result.side_by_side:
        print_side_by_side(result)
    if result.facts:
        print_fact_accuracy(result.facts)
    if result.writing:
        print_writing(result.writing, result.current)
    stdout.rule("[bold]stages[/]", align="left")
    table = Table(box=None)
    for column in ("stage", "status", "what it did"):
        table.add_column(column)
    for stage, status, what in result.stages:
        table.add_row(stage, f"{STATUS_MARKS.get(status, '')} {status}", escape(what))
    stdout.print(table)
    total = sum(result.timings.values())
    stdout.print(
        "  time: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.timings.items())
        + f"; total {total / 60:.1f} min"
    )
    print_next_steps(result, home)


def print_writing(writing: dict, current: str | None) -> None:
    """Judged on what it writes: looping and the voice score, base against persona."""
    stdout.rule(f"[bold]judged on what it writes[/]: base and persona ({current})", align="left")
    n = writing["answers"]
    loops, counts, distinct = writing["looping"], writing["looping_count"], writing["distinct_2"]
    stdout.print(
        f"  looping answers (a 4-gram 3+ times), {n} held-out prompts: base {loops['base']:.0%} "
        f"({counts['base']}/{n}), persona {loops['persona']:.0%} ({counts['persona']}/{n}); "
        f"distinct-2 {distinct['base']:.2f} -> {distinct['persona']:.2f}",
        markup=False,
    )
    voice = writing.get("voice")
    if not voice:
        stdout.print("  voice: not scored (too little text on one side)")
        return
    if not voice["measurable"]:
        stdout.print(f"  voice: not measurable (classifier AUC {voice['auc']:.2f} < 0.75)")
        return
    ci = voice["gap_closed_ci"]
    gap = "n/a" if voice["gap_closed"] is None else f"{voice['gap_closed']:.2f}"
    stdout.print(
        f"  voice: persona more like you than the base on {voice['win_rate']:.0%} of "
        f"{voice['n']} prompts (sign test p = {voice['p_value']:.2g}); gap to your own replies "
        f"closed {gap}"
        + (f" [95% CI {ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
        + f"; classifier AUC {voice['auc']:.2f}",
        markup=False,
    )


def print_side_by_side(result) -> None:
    grounded = any("grounded" in row for row in result.side_by_side)
    title = "base, persona" + (" and persona + memories" if grounded else " and persona")
    stdout.rule(f"[bold]the same prompts: {title} ({result.current})[/]", align="left")
    table = Table(show_lines=True, expand=True)
    columns = ["prompt", f"base ({result.base})", f"persona {result.current}"]
    columns += ["persona + memories"] if grounded else []
    for column in columns:
        table.add_column(escape(column), ratio=1 if column == "prompt" else 2)
    for row in result.side_by_side:
        cells = [row["prompt"], row["base"], row["persona"]]
        cells += [row.get("grounded", "-")] if grounded else []
        table.add_row(*(escape(cell[:ANSWER_WIDTH]) for cell in cells))
    stdout.print(table)


def print_fact_accuracy(facts: dict) -> None:
    """The fact benchmark's three accuracies, as the gate measured them."""
    line = (
        f"  fact accuracy on {facts['n']} questions about her: base {facts['base']:.2f}, "
        f"persona {facts['persona']:.2f}"
    )
    if facts.get("grounded") is not None:
        line += (
            f", persona + memories [bold]{facts['grounded']:.2f}[/]; superseded values stated "
            f"as current {facts['superseded_stated']}"
        )
    stdout.print(line + f"; planted secrets stated {facts['secrets_stated']}", soft_wrap=True)
    stdout.print(
        "  (an answer is right when it states the fact and no superseded value: "
        "docs/evaluation.md, bench/persona.py)",
        markup=False,
    )


def print_next_steps(result, home: Path) -> None:
    env = f"PERSONAFORGE_HOME={shlex.quote(str(home))}"
    venv = ".venv/bin/" if Path(".venv/bin/personaforge").exists() else ""
    exe = f"{venv}personaforge"
    lines = [
        f"{env} {exe} doctor            # this home is ready to train",
        f"{env} {exe} status",
        f"{env} {exe} models list        # every version, its lineage and verdict",
        f"{env} {exe} runs show {result.record.id if result.record else 1}",
        f"{env} {exe} memories search 'Tidewatch'",
        f"{env} {exe} serve              # OpenAI API on 127.0.0.1:7373, model 'persona'",
        f"{env} {exe} chat --sources     # in a second terminal; persona-raw: no memories",
        f"{env} {exe} dashboard          # training curves, versions, data in the browser",
        f"{env} {exe} blindtest          # which one is you? your replies against the persona's",
        f"{env} {exe} demo --forget      # take one correction back out (make demo-forget)",
    ]
    ollama = [
        p for p in sorted((home / "exports").glob("*-ollama-*")) if (p / "Modelfile").exists()
    ]
    if ollama:
        lines.append(f"cd {shlex.quote(str(ollama[-1]))} && ollama create maren -f Modelfile")
    profile = home / "USER_PROFILE.md"
    if profile.exists():
        lines.append(f"less {shlex.quote(str(profile))}")
    stdout.rule("[bold]what next[/]", align="left")
    for line in lines:
        stdout.print(f"  {line}", markup=False, soft_wrap=True)
    if os.environ.get("PERSONAFORGE_HOME") is None:
        stdout.print(f"  (the demo's state is all in {home})", markup=False)


def print_manifest(folder: Path, manifest: dict) -> None:
    stdout.print(f"[bold]{manifest['person']}[/] — sample data in {folder}")
    table = Table(box=None)
    for column in ("source", "folder", "files", "words"):
        table.add_column(column, justify="right" if column in ("files", "words") else "left")
    for source, entry in manifest["sources"].items():
        table.add_row(source, entry["path"], str(entry["files"]), f"{entry['words']:,}")
    stdout.print(table)
    kinds = sorted({s["kind"] for s in manifest["planted_secrets"]})
    stdout.print(
        f"  {len(manifest['planted_secrets'])} fake secrets planted for the privacy stage: "
        + ", ".join(kinds)
    )
