"""`personaforge dataset`: build, inspect and review training datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from personaforge.cli.app import display_path, examples, get_state, open_store
from personaforge.errors import UserError
from personaforge.ui import console, stdout

dataset_app = typer.Typer(help="Build and inspect training datasets.", no_args_is_help=True)
review_app = typer.Typer(help="Apply a reviewed dataset file.", no_args_is_help=True)
dataset_app.add_typer(review_app, name="review")


@dataset_app.command(
    "build",
    epilog=examples(
        "personaforge dataset build",
        "personaforge dataset build --monthly",
        "personaforge dataset build --days-recent 14 --old-samples 500 --max 2000",
        "personaforge dataset build --kind voice,reflection --mode reflection --review",
        "personaforge dataset build --teacher http://localhost:11434/v1",
    ),
)
def dataset_build(
    ctx: typer.Context,
    foundation: Annotated[
        bool, typer.Option("--foundation", help="Every eligible memory (the default).")
    ] = False,
    monthly: Annotated[
        bool,
        typer.Option(
            "--monthly",
            help="What the current version never learned (without one: the last "
            "dataset.days_recent days) plus dataset.old_samples older memories, evenly per month.",
        ),
    ] = False,
    days_recent: Annotated[
        int | None, typer.Option(help="Monthly mix: memories of the last N days.")
    ] = None,
    old_samples: Annotated[
        int | None, typer.Option(help="Monthly mix: this many older memories, sampled.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Monthly mix: count days back from this date (YYYY-MM-DD).")
    ] = None,
    max_memories: Annotated[
        int | None, typer.Option("--max", help="At most this many memories.")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="Only memories of this mode.")] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="Example kinds, comma-separated: voice,reflection,dialogue,knowledge,preference."
        ),
    ] = "voice,reflection,dialogue,knowledge,preference",
    teacher: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible endpoint for knowledge pairs (Ollama, vLLM, ...)."),
    ] = None,
    review: Annotated[
        bool, typer.Option("--review", help="Also write review.md to accept or reject examples.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Turn memories into curated, privacy-scrubbed training examples with an eval split."""
    from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
    from personaforge.dataset.curate import counter_for_base
    from personaforge.serve.grounded import grounded_rows

    if foundation and (monthly or days_recent or old_samples):
        raise UserError("--foundation and --monthly/--days-recent/--old-samples exclude each other")
    from personaforge.train.defaults import with_base_for_machine

    state = get_state(ctx)
    settings, _ = with_base_for_machine(state.paths, state.loaded.settings)
    strategy = (
        "monthly" if monthly or days_recent is not None or old_samples is not None else "foundation"
    )
    since, since_version = _learned_by_current(state.paths, settings, as_of, days_recent)
    plan = MixPlan(
        strategy,
        since=since,
        since_version=since_version,
        days_recent=days_recent if days_recent is not None else settings.dataset.days_recent,
        old_samples=old_samples if old_samples is not None else settings.dataset.old_samples,
        max_memories=max_memories,
        mode=mode,
        seed=settings.dataset.seed,
        as_of=as_of,
    )
    request = DatasetRequest(
        plan,
        [k.strip() for k in kind.split(",") if k.strip()],
        teacher,
        review,
        extra_rows=grounded_rows(state.paths, settings),
    )
    counter, tokenizer_name, problem = counter_for_base(
        settings.model.base, state.paths, settings.model.revision
    )
    if problem:
        console.print(f"[yellow]note:[/] token lengths estimated: {escape(problem)}")
    with open_store(ctx) as store:
        result = build_dataset(
            store, settings, state.paths, request, counter, tokenizer_name if counter else None
        )
    if as_json:
        stdout.print_json(json.dumps(result.manifest))
        return
    print_dataset(result.manifest, result.folder)
    if result.reused:
        console.print("same memories and settings as an existing dataset: reused it")


def _learned_by_current(paths, settings, as_of, days_recent) -> tuple[str | None, str | None]:
    """(watermark, version): what the current version on this base learned. An explicit clock
    window (--as-of, --days-recent) wins over it."""
    from personaforge.pipeline import learned_watermark
    from personaforge.registry import Registry

    if as_of is not None or days_recent is not None or not (paths.home / "registry.db").exists():
        return None, None
    with Registry.open(paths) as registry:
        current = registry.current()
        if current is None or registry.get(current).base != settings.model.base:
            return None, None
    return learned_watermark(paths, current), current


@dataset_app.command(
    "show",
    epilog=examples(
        "personaforge dataset show",
        "personaforge dataset show ds-1a2b3c4d5e6f",
        "personaforge dataset show --examples dialogue --source whatsapp",
    ),
)
def dataset_show(
    ctx: typer.Context,
    dataset_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Dataset id; default: the latest.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
    kind: Annotated[
        str | None,
        typer.Option(
            "--examples",
            metavar="KIND",
            help="Also print examples of this kind (voice, reflection, dialogue, knowledge).",
        ),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="With --examples: only those from this source.")
    ] = None,
    limit: Annotated[int, typer.Option(help="With --examples: at most this many.")] = 5,
) -> None:
    """Print a dataset's manifest: counts, quality metrics, privacy findings; and examples."""
    from personaforge.dataset.build import load_manifest

    paths = get_state(ctx).paths
    manifest = load_manifest(paths, dataset_id)
    if as_json:
        stdout.print_json(json.dumps(manifest))
    else:
        print_dataset(manifest, paths.datasets / manifest["id"])
    if kind is not None:
        print_examples(paths.datasets / manifest["id"], kind, source, limit)


def print_examples(folder: Path, kind: str, source: str | None, limit: int) -> None:
    """Training and held-out examples of one kind: the prompt turns, then the reply trained on."""
    shown = 0
    for name in ("train.jsonl", "eval.jsonl"):
        path = folder / name
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
            record = json.loads(line)
            meta = record["meta"]
            if meta["kind"] != kind or (source is not None and meta["source"] != source):
                continue
            if shown == limit:
                return
            shown += 1
            stdout.print(
                f"[bold]{kind}[/] · {meta['source']} · {meta['date']} · {name}", soft_wrap=True
            )
            for message in record["messages"][1:]:
                text = message["content"].replace("\n", "\n      ")
                stdout.print(f"  {message['role']}: {text}", markup=False, soft_wrap=True)
    if shown == 0:
        where = f" from {source}" if source else ""
        console.print(f"[yellow]no {kind} examples{where} in this dataset[/]")


@dataset_app.command("list", epilog=examples("personaforge dataset list"))
def dataset_list(ctx: typer.Context) -> None:
    """Every built dataset, newest first."""
    from personaforge.dataset.build import latest_id, list_datasets

    paths = get_state(ctx).paths
    latest = latest_id(paths)
    table = Table(box=None)
    for column in ("id", "created", "mix", "train", "eval", "preference", "parent"):
        table.add_column(column)
    for manifest in list_datasets(paths):
        mark = " (latest)" if manifest["id"] == latest else ""
        table.add_row(
            manifest["id"] + mark,
            manifest["created_at"][:16],
            manifest["parameters"]["mix"]["strategy"],
            str(manifest["files"]["train.jsonl"]["examples"]),
            str(manifest["files"]["eval.jsonl"]["examples"]),
            str(manifest["files"]["preference.jsonl"]["examples"]),
            manifest.get("parent", "-"),
        )
    stdout.print(table)


@review_app.command(
    "apply",
    epilog=examples("personaforge dataset review apply ~/.personaforge/datasets/ds-…/review.md"),
)
def dataset_review_apply(
    ctx: typer.Context,
    review_file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The edited review.md of a dataset.")
    ],
) -> None:
    """Keep only the examples still ticked in a review file; writes a new dataset."""
    from personaforge.dataset.build import apply_review

    paths = get_state(ctx).paths
    result = apply_review(paths, review_file)
    review = result.manifest.get("review", {})
    console.print(
        f"kept {review.get('accepted', 0)} examples, left out {review.get('rejected', 0)}"
    )
    print_dataset(result.manifest, result.folder)


def _finding_place(finding: dict) -> str:
    """Where to fix a finding: the file, plus the message for chats (their locator is an id)."""
    file = display_path(finding.get("file", finding["locator"]))
    return (
        file
        if finding["locator"].startswith(finding.get("file", "\0"))
        else f"{file} ({finding['locator']})"
    )


def _new_since(selection: dict) -> str:
    if selection.get("since_version"):
        return f"new since {selection['since_version']}"
    return "recent" if selection.get("cutoff") else "in all"


def print_dataset(manifest: dict, folder: Path, findings_limit: int = 12) -> None:
    from personaforge.dataset.code import code_share_line

    counts, metrics = manifest["counts"], manifest["metrics"]
    stdout.print(f"[bold]{manifest['id']}[/] in {folder}")
    selection = manifest["selection"]
    stdout.print(
        f"  mix {manifest['parameters']['mix']['strategy']}: {selection['memories']} memories "
        f"({selection['recent']} {_new_since(selection)}, {selection['old_sampled']} older "
        "replayed); "
        f"tokenizer {manifest['parameters']['tokenizer']}"
    )
    files = Table(box=None, title="files", title_justify="left")
    for name in manifest["files"]:
        files.add_column(name, justify="right")
    files.add_row(*(str(entry["examples"]) for entry in manifest["files"].values()))
    stdout.print(files)
    flow = Table(box=None, title="curation", title_justify="left")
    dropped = counts["dropped"]
    for column in ("candidates", *dropped, "split", "kept"):
        flow.add_column(
            column if column in ("candidates", "split", "kept") else f"- {column}", justify="right"
        )
    flow.add_row(
        str(counts["candidates"]),
        *(str(v) for v in dropped.values()),
        str(counts["split_over_length"]),
        str(counts["kept"]),
    )
    stdout.print(flow)
    quality = Table(box=None, title="quality", title_justify="left")
    for column in ("short <40w", "medium", "long >100w", "filler", "median tokens", "max tokens"):
        quality.add_column(column, justify="right")
    quality.add_row(
        f"{metrics['share_short_under_40_words']:.0%}",
        f"{metrics['share_medium_40_to_100_words']:.0%}",
        f"{metrics['share_long_over_100_words']:.0%}",
        f"{metrics['filler_rate']:.0%}",
        str(metrics["tokens"]["median"]),
        str(metrics["tokens"]["max"]),
    )
    stdout.print(quality)
    stdout.print("  kinds: " + ", ".join(f"{k} {v}" for k, v in metrics["by_kind"].items()))
    dialogues = metrics.get("dialogue_by_source") or {}
    if dialogues:
        stdout.print("  dialogues: " + ", ".join(f"{k} {v}" for k, v in dialogues.items()))
    code = code_share_line(manifest)
    if code:
        stdout.print(f"  {code}", markup=False, soft_wrap=True)
    stdout.print("  modes: " + ", ".join(f"{k} {v}" for k, v in metrics["by_mode"].items()))
    stdout.print("  months: " + ", ".join(f"{k} {v}" for k, v in metrics["by_month"].items()))
    for warning in manifest["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    privacy = manifest["privacy"]
    stdout.print(
        f"[bold]privacy[/]: {privacy['findings']} findings in the selected memories; "
        f"{privacy['examples_dropped']} examples dropped, the rest redacted per policy"
    )
    for finding in privacy["list"][:findings_limit]:
        stdout.print(
            f"  {finding['kind']:<12} {finding['action']:<7} {finding['preview']:<20} "
            f"{_finding_place(finding)}",
            markup=False,
            soft_wrap=True,
        )
    if len(privacy["list"]) > findings_limit:
        stdout.print(
            f"  … and {len(privacy['list']) - findings_limit} more (`dataset show --json`)"
        )
    teacher = manifest.get("teacher")
    if teacher:
        stdout.print(
            f"teacher {teacher['endpoint']}: {teacher['pairs']} pairs, {teacher['requests']} requests, "
            f"{teacher['cached']} cached, {teacher['failed']} failed"
        )
        for problem in teacher["problems"][:3]:
            console.print(f"[yellow]teacher:[/] {escape(problem)}")
