"""`personaforge demo`: the whole job on a built-in base and the sample person."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from personaforge.cli.app import app, examples, get_state
from personaforge.cli.base import print_base_card
from personaforge.cli.dataset import print_dataset
from personaforge.cli.export import print_export
from personaforge.cli.memories import print_ingest_summary, print_memory_stats
from personaforge.cli.models import print_evaluation
from personaforge.cli.train import print_training
from personaforge.ui import stdout


@app.command(
    epilog=examples(
        "make demo",
        "personaforge demo",
        "personaforge demo --data-only ./sample-person",
    )
)
def demo(
    ctx: typer.Context,
    data_only: Annotated[
        Path | None,
        typer.Option(
            "--data-only", metavar="DIR", help="Only write the sample person's data into DIR."
        ),
    ] = None,
    fresh_data: Annotated[
        bool, typer.Option("--fresh-data", help="Rewrite the sample data even if it exists.")
    ] = False,
) -> None:
    """Run the whole job on the built-in tiny base and a generated sample person.

    Builds (or reuses) the tiny base, checks it loads and answers, writes the
    sample data, and runs every stage built so far.
    """
    from personaforge.sample import write_sample_data

    if data_only is not None:
        manifest = write_sample_data(data_only, overwrite=fresh_data)
        _print_manifest(data_only, manifest)
        return
    from personaforge.demo import run_demo

    state = get_state(ctx)
    result = run_demo(state.paths, state.loaded.settings, fresh_data=fresh_data)
    stdout.rule("built-in tiny base")
    print_base_card(result.base_folder, result.base_card)
    stdout.print("  greedy answers through AutoModelForCausalLM + its chat template:")
    for question, answer in result.answers:
        stdout.print(f"    {question}  ->  {answer}", markup=False)
    stdout.rule("sample data")
    _print_manifest(result.data_dir, result.manifest)
    stdout.rule(f"ingest -> {state.paths.memory_store}")
    print_ingest_summary(result.ingest_summary, result.memory_stats["memories"], limit=4)
    print_memory_stats(result.memory_stats)
    stdout.rule("dataset")
    print_dataset(result.dataset.manifest, result.dataset.folder, findings_limit=20)
    stdout.rule("train, evaluate, register")
    for card, report in zip(result.trained, result.evaluations, strict=True):
        print_training(card, state.paths.adapters / card["version"])
        print_evaluation(report)
        for item in report.generations[:2]:
            stdout.print(f"    {item['prompt']}", markup=False)
            stdout.print(f"      base:      {item['base'][:70]}", markup=False)
            stdout.print(f"      candidate: {item['candidate'][:70]}", markup=False)
    stdout.print(f"current: {result.current or 'the base (no adapter passed the gate)'}")
    stdout.rule("export")
    for exported in result.exports:
        print_export(exported)
    stdout.rule("serve (OpenAI-compatible API on 127.0.0.1, asked through the openai client)")
    for model, question, answer in result.conversation:
        stdout.print(f"  {model} <- {question}", markup=False)
        stdout.print(f"    {answer}", markup=False, soft_wrap=True)
    stdout.rule("pipeline")
    table = Table(show_header=True, box=None)
    for column in ("stage", "status", "what it does with this data"):
        table.add_column(column)
    for stage, status, what in result.stages:
        table.add_row(stage, "[green]done[/]" if status == "done" else "[dim]next[/]", what)
    stdout.print(table)


def _print_manifest(folder: Path, manifest: dict) -> None:
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
