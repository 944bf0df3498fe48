"""`personaforge run`: the whole cycle, recorded and resumable.

    record = run_pipeline(paths, settings, RunRequest(trigger="schedule"), reporter)

ingest -> dataset -> train (SFT) -> evaluate (promote or reject) -> dpo (train
and evaluate, when there are corrections) -> export -> reload (a running
server) -> profile. The first run builds a foundation dataset; later runs build
a monthly one (the last `dataset.days_recent` days plus a replayed sample of
older memories) and continue from the current version (`run.strategy = warm`).

A run stops after ingest when nothing changed since the data the current
version learned from ("nothing new to learn"), so a monthly schedule costs
nothing in quiet months. Every stage's outcome is recorded as it ends
(runs.py); `--resume` picks up a failed or killed run at the stage that did not
finish, reusing what the finished ones made (a killed training resumes from its
last checkpoint). The stages do not print: a Reporter receives each stage's
start and result, so the CLI, the demo and tests show them their own way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personaforge.config import Settings
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.run_context import (
    Interrupted,
    Outcome,
    Reporter,
    RunContext,
    RunRequest,
    SilentReporter,
    nothing_new,
    store_state,
)
from personaforge.runs import (
    RunLog,
    RunRecord,
    RunStatus,
    StageRecord,
    StageStatus,
    get_run,
    list_runs,
    run_lock,
)
from personaforge.strategies import STRATEGIES, train_settings
from personaforge.train.budget import budget_note

FAILED = StageStatus.FAILED

__all__ = ["STAGES", "RunRequest", "get_run", "list_runs", "run_pipeline"]


# -- stages -------------------------------------------------------------------------------------------


def stage_ingest(ctx: RunContext) -> Outcome:
    from personaforge.ingest import ingest
    from personaforge.store import MemoryStore

    with MemoryStore.open(ctx.paths.memory_store) as store:
        summary = ingest(
            [Path(s) for s in ctx.settings.run.sources],
            store,
            ctx.settings.ingest,
            show_progress=ctx.request.show_progress,
            identity=ctx.settings.identity,
        )
        total = store.count()
    if summary.interrupted:
        raise Interrupted("ingest was interrupted; finished files are kept")
    if summary.nothing_readable:
        raise UserError(
            "nothing could be read from run.sources: " + ", ".join(ctx.settings.run.sources)
        )
    changes = vars(summary.memories)
    numbers = {"memories_in_store": total, **changes, "files_read": summary.files_read}
    state = store_state(ctx.paths)
    numbers["store_state"] = state
    why = None if ctx.request.force else nothing_new(ctx, state)
    if why:
        return Outcome(StageStatus.STOPPED, why, numbers, summary)
    return Outcome(StageStatus.DONE, f"{total:,} memories in the store", numbers, summary)


def _strategy(ctx: RunContext) -> str:
    first = ctx.current_on_base() is None
    everything = ctx.request.foundation or STRATEGIES[ctx.settings.run.strategy].dataset == (
        "foundation"
    )
    return "foundation" if first or everything else "monthly"


def _parent(ctx: RunContext) -> str | None:
    """What SFT continues from: the current version, or nothing (a fresh adapter, the first run)."""
    continues = STRATEGIES[ctx.settings.run.strategy].start == "current" or ctx.request.foundation
    return ctx.current_on_base() if continues else None


def learned_watermark(paths: Paths, version: str) -> str | None:
    """The store watermark of the dataset `version` learned from (what it has seen)."""
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        dataset_id = registry.get(version).dataset_id
    manifest = paths.datasets / dataset_id / "manifest.json"
    if not manifest.exists():
        return None
    data = json.loads(manifest.read_text())
    # Datasets built before the watermark was recorded: nothing was written after their build.
    return data.get("provenance", {}).get("store_watermark") or data.get("created_at")


def mix_plan(ctx: RunContext):
    """The dataset stage's MixPlan: foundation or monthly, since what the current version learned."""
    from personaforge.dataset import MixPlan

    settings = ctx.settings
    current = ctx.current_on_base()
    return MixPlan(
        _strategy(ctx),
        days_recent=settings.dataset.days_recent,
        old_samples=settings.dataset.old_samples,
        seed=settings.dataset.seed,
        since=learned_watermark(ctx.paths, current) if current else None,
        since_version=current,
    )


def build_run_dataset(ctx: RunContext, home: Paths):
    """Build the dataset stage's dataset from `home`'s store (a dry run passes a scratch copy)."""
    from personaforge.dataset import DatasetRequest, build_dataset
    from personaforge.dataset.curate import counter_for_base
    from personaforge.serve.grounded import grounded_rows
    from personaforge.store import MemoryStore

    settings = ctx.settings
    counter, tokenizer_name, _ = counter_for_base(
        settings.model.base, ctx.paths, settings.model.revision
    )
    with MemoryStore.open(home.memory_store) as store:
        return build_dataset(
            store,
            settings,
            home,
            DatasetRequest(mix_plan(ctx), extra_rows=grounded_rows(home, settings)),
            counter,
            tokenizer_name if counter else None,
        )


def stage_dataset(ctx: RunContext) -> Outcome:
    strategy = _strategy(ctx)
    result = build_run_dataset(ctx, ctx.paths)
    ctx.dataset_id = result.id
    files = result.manifest["files"]
    numbers = {
        "dataset": result.id,
        "strategy": strategy,
        "new_memories": result.manifest["selection"].get("new", 0),
        **{name.removesuffix(".jsonl"): entry["examples"] for name, entry in files.items()},
    }
    return Outcome(StageStatus.DONE, f"{result.id} ({strategy})", numbers, result)


def _trained(
    ctx: RunContext, method: str, parent: str | None, settings: Settings | None = None
) -> tuple[str, Any]:
    """Train, or reuse a version trained on exactly these inputs (a rerun or a resume)."""
    from personaforge.registry import Registry
    from personaforge.train.run import TrainRequest, train

    assert ctx.dataset_id is not None
    settings = settings or ctx.settings
    with Registry.open(ctx.paths) as registry:
        found = registry.find_trained(method, ctx.dataset_id, parent, settings.train.model_dump())
    if found:
        return found, None
    request = TrainRequest(
        method=method,
        dataset_id=ctx.dataset_id,
        from_version=parent,
        fresh=parent is None,
        show_progress=ctx.request.show_progress,
    )
    result = train(ctx.paths, settings, request)
    if result.interrupted:
        raise Interrupted(f"training stopped at step {result.steps}; `run --resume` continues it")
    if result.skipped:
        return "", result
    return result.version or "", result


def _training_numbers(version: str, paths: Paths) -> dict[str, Any]:
    from personaforge.registry import read_card

    card = read_card(paths.adapters / version)
    metrics = card["metrics"]
    keep = ("train_loss_first", "train_loss_last", "eval_loss_before", "eval_loss_after", "steps")
    return {
        "version": version,
        "parent": card.get("parent"),
        **{key: metrics.get(key) for key in keep},
        "seconds": metrics.get("seconds_this_session"),
        **({"dpo": metrics["dpo"]} if "dpo" in metrics else {}),
        # the estimate, the budget and what it bound (train/run.py _time_record)
        **({"time": metrics["time"]} if "time" in metrics else {}),
    }


def stage_train(ctx: RunContext) -> Outcome:
    parent = _parent(ctx)
    settings = train_settings(ctx, parent)
    version, result = _trained(ctx, "sft", parent, settings)
    ctx.sft_version = version
    reused = result is None
    start = parent or "the base"
    if parent and settings.train.parent_scale < 1:
        start = f"{parent} averaged with the base ({settings.train.parent_scale:g})"
    if settings.train.learning_rate != ctx.settings.train.learning_rate:
        start += f", learning rate {settings.train.learning_rate:.2g}"
    numbers = _training_numbers(version, ctx.paths)
    summary = f"{version} from {start}" + (" (already trained: reused)" if reused else "")
    return Outcome(StageStatus.DONE, summary + budget_note(numbers), numbers, result)


def _gate(ctx: RunContext, version: str) -> Outcome:
    from personaforge.evaluate import evaluate_and_apply, load_report

    report = load_report(ctx.paths, version)
    if report is None or report.verdict.get("checks") is None:
        report = evaluate_and_apply(ctx.paths, ctx.settings, version)
    decision = report.verdict["decision"]
    if decision == "promote":
        ctx.promoted.append(version)
    base, cand = report.compared["base"], report.compared["candidate"]
    numbers = {
        "version": version,
        "decision": decision,
        "style_ratio": round(cand.style_ppl / base.style_ppl, 4),
        "general_ratio": round(cand.general_ppl / base.general_ppl, 4),
        "probes": f"{cand.probes_passed}/{cand.probes_total} (base {base.probes_passed})",
        "failed_checks": [c["name"] for c in report.verdict.get("checks", []) if not c["passed"]],
    }
    return Outcome(StageStatus.DONE, f"{version}: {decision}", numbers, report)


def stage_evaluate(ctx: RunContext) -> Outcome:
    assert ctx.sft_version
    return _gate(ctx, ctx.sft_version)


def stage_dpo(ctx: RunContext) -> Outcome:
    if not ctx.settings.run.dpo:
        return Outcome(StageStatus.SKIPPED, "run.dpo is off")
    if ctx.sft_version not in ctx.promoted and ctx.current() != ctx.sft_version:
        return Outcome(
            StageStatus.SKIPPED, f"{ctx.sft_version} was not promoted; DPO refines a promoted SFT"
        )
    version, result = _trained(ctx, "dpo", ctx.sft_version)
    if not version:
        return Outcome(StageStatus.SKIPPED, result.skipped, {"reason": result.skipped})
    ctx.dpo_version = version
    gated = _gate(ctx, version)
    numbers = {**_training_numbers(version, ctx.paths), **gated.numbers}
    return Outcome(StageStatus.DONE, gated.summary, numbers, (result, gated.payload))


def stage_export(ctx: RunContext) -> Outcome:
    from personaforge.export import export_version

    current = ctx.current()
    if not ctx.promoted or current is None:
        return Outcome(StageStatus.SKIPPED, "no version was promoted in this run")
    if not ctx.settings.run.export_formats:
        return Outcome(StageStatus.SKIPPED, "run.export_formats is empty")
    quant = ctx.settings.run.export_quant
    results = [
        export_version(ctx.paths, current, fmt, quant) for fmt in ctx.settings.run.export_formats
    ]
    numbers = {
        "version": current,
        "exports": {
            r.format: {"path": str(r.path), "bytes": r.size, "unchecked": r.unchecked}
            for r in results
        },
    }
    unchecked = [r for r in results if not r.verified]
    summary = f"{current}: " + ", ".join(r.format for r in results)
    if unchecked:  # written, but a check could not run: not "done", and the line says why
        why = "; ".join(f"{r.format} {line}" for r in unchecked for line in r.unchecked)
        return Outcome(StageStatus.UNCHECKED, f"{summary}; unchecked: {why}", numbers, results)
    return Outcome(StageStatus.DONE, summary, numbers, results)


def stage_reload(ctx: RunContext) -> Outcome:
    from personaforge.serve.client import ServerUnreachable, admin_post

    current = ctx.current()
    if not ctx.promoted or current is None:
        return Outcome(StageStatus.SKIPPED, "no version was promoted in this run")
    url = ctx.settings.run.server_url
    try:
        answer = admin_post(ctx.paths, url, "/admin/reload-model", {"version": current})
    except ServerUnreachable:
        return Outcome(StageStatus.SKIPPED, f"no server running at {url}")
    return Outcome(
        StageStatus.DONE,
        f"{url} now serves {answer.get('persona')}",
        {"url": url, "version": current},
    )


def stage_profile(ctx: RunContext) -> Outcome:
    if not ctx.settings.run.profile:
        return Outcome(StageStatus.SKIPPED, "run.profile is off")
    from personaforge.profile import build_profile, write_profile

    current = ctx.current()
    profile = build_profile(ctx.paths, ctx.settings, version=current)
    written = write_profile(ctx.paths, profile)
    facts = len(getattr(profile, "facts", []) or [])
    return Outcome(
        StageStatus.DONE,
        f"USER_PROFILE.md: {facts} facts" + (f" ({current})" if current else ""),
        {"facts": facts, "files": [str(p) for p in written]},
        profile,
    )


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[RunContext], Outcome]
    does: str  # for --dry-run and the stage header


STAGES = (
    Stage("ingest", stage_ingest, "read run.sources into the memory store (only what changed)"),
    Stage("dataset", stage_dataset, "build training examples"),
    Stage("train", stage_train, "LoRA SFT"),
    Stage("evaluate", stage_evaluate, "the gate: promote or reject"),
    Stage("dpo", stage_dpo, "DPO on the corrections, then the gate again"),
    Stage("export", stage_export, "export the promoted version (run.export_formats)"),
    Stage("reload", stage_reload, "tell a running server to serve it"),
    Stage("profile", stage_profile, "rewrite USER_PROFILE.md"),
)
STAGE_NAMES = [stage.name for stage in STAGES]


# -- planning (--dry-run, headers) --------------------------------------------------------------------------


def plan_line(ctx: RunContext, stage: Stage) -> str:
    """What the stage will do with this home, in one line."""
    settings = ctx.settings
    if stage.name == "ingest":
        sources = ", ".join(settings.run.sources) or "(none configured)"
        return f"read {sources}"
    if stage.name == "dataset":
        strategy = _strategy(ctx)
        if strategy == "foundation":
            why = (
                "no version on this base yet"
                if ctx.current_on_base() is None
                else "run.strategy = retrain"
            )
            return f"foundation: every memory ({why})"
        current = ctx.current_on_base()
        return (
            f"monthly: what {current} never learned + up to "
            f"{settings.dataset.old_samples} older memories replayed, evenly over the months"
        )
    if stage.name == "train":
        parent = _parent(ctx)
        how = STRATEGIES[settings.run.strategy].says.format(current=parent)
        return f"SFT on {settings.model.base}: " + (how if parent else "from the base")
    if stage.name == "dpo" and not settings.run.dpo:
        return "off (run.dpo = false)"
    if stage.name == "export":
        return f"{', '.join(settings.run.export_formats)} ({settings.run.export_quant})"
    if stage.name == "reload":
        return f"POST {settings.run.server_url}/admin/reload-model, if a server runs there"
    return stage.does


def _selected(request: RunRequest, first: str | None) -> list[Stage]:
    for name in (request.from_stage, request.until):
        if name is not None and name not in STAGE_NAMES:
            raise UserError(f"unknown stage '{name}'; stages: {', '.join(STAGE_NAMES)}")
    start = STAGE_NAMES.index(first or request.from_stage or "ingest")
    stop = STAGE_NAMES.index(request.until) + 1 if request.until else len(STAGES)
    if stop <= start:
        raise UserError(
            f"--until {request.until} comes before --from {first or request.from_stage}"
        )
    return list(STAGES[start:stop])


def _restore(ctx: RunContext, record: RunRecord | None) -> None:
    """Carry forward what finished stages made (a resumed run, or --from on top of the last run)."""
    from personaforge.dataset.build import latest_id

    numbers = {s.name: s.numbers for s in record.stages} if record else {}
    ctx.dataset_id = numbers.get("dataset", {}).get("dataset") or latest_id(ctx.paths)
    ctx.sft_version = numbers.get("train", {}).get("version")
    ctx.dpo_version = numbers.get("dpo", {}).get("version")
    for name in ("evaluate", "dpo"):
        if numbers.get(name, {}).get("decision") == "promote":
            ctx.promoted.append(numbers[name]["version"])
    if ctx.sft_version is None:
        from personaforge.registry import Registry

        with Registry.open(ctx.paths) as registry:
            latest = next((v for v in reversed(registry.versions()) if v.method == "sft"), None)
        ctx.sft_version = latest.name if latest else None


# -- the run ------------------------------------------------------------------------------------------------


def dry_run(paths: Paths, settings: Settings, request: RunRequest) -> list[tuple[str, str]]:
    """(stage, what it would do) without doing anything (preview.py adds the numbers)."""
    from personaforge.train.defaults import with_base_for_machine

    settings, _ = with_base_for_machine(paths, settings)
    ctx = RunContext(paths, settings, request)
    return [(stage.name, plan_line(ctx, stage)) for stage in _selected(request, None)]


def run_pipeline(
    paths: Paths,
    settings: Settings,
    request: RunRequest,
    reporter: Reporter | None = None,
    first: Callable[[], object] | None = None,
) -> RunRecord:
    from personaforge.train.defaults import with_base_for_machine

    reporter = reporter or SilentReporter()
    settings, _ = with_base_for_machine(paths, settings)  # the CLI has said why already
    if not settings.run.sources and request.from_stage in (None, "ingest") and not request.resume:
        raise UserError(
            "run.sources is empty: name what to learn from, e.g. "
            "`personaforge config set run.sources ~/Obsidian/Vault,~/.claude/projects`"
        )
    paths.ensure()
    with run_lock(paths), RunLog.open(paths) as log:
        if first is not None:  # what must happen under the run lock before any stage
            first()
        resumed = log.last_resumable() if request.resume else None
        if request.resume and resumed is None:
            raise UserError("nothing to resume: the last run did not fail or get interrupted")
        ctx = RunContext(paths, settings, request)
        if resumed is not None:
            record = log.resume(resumed)
            finished = {
                s.name
                for s in record.stages
                if s.status in (StageStatus.DONE, StageStatus.UNCHECKED, StageStatus.SKIPPED)
            }
            first = next((n for n in STAGE_NAMES if n not in finished), None)
            _restore(ctx, record)
            if first is None:
                log.finish(record, RunStatus.FINISHED)
                return record
        else:
            first = None
            record = log.start(
                request.trigger, {"from": request.from_stage, "until": request.until}
            )
            if request.dataset or request.sft_version:
                ctx.dataset_id, ctx.sft_version = request.dataset, request.sft_version
            elif request.from_stage not in (None, "ingest"):
                _restore(ctx, log.last_finished())
        stages = _selected(request, first)
        return _run_stages(ctx, log, record, stages, reporter)


def _run_stages(
    ctx: RunContext, log: RunLog, record: RunRecord, stages: list[Stage], reporter: Reporter
) -> RunRecord:
    for index, stage in enumerate(stages, start=1):
        reporter.stage_started(index, len(stages), stage.name, plan_line(ctx, stage))
        started = time.monotonic()
        try:
            outcome = stage.run(ctx)
        except Interrupted as exc:
            _record_stage(log, record, stage, FAILED, str(exc), {}, started, reporter, None)
            log.finish(record, RunStatus.INTERRUPTED, str(exc))
            return record
        except (UserError, KeyboardInterrupt) as exc:
            message = str(exc) or "interrupted"
            _record_stage(log, record, stage, FAILED, message, {}, started, reporter, None)
            status = RunStatus.FAILED if isinstance(exc, UserError) else RunStatus.INTERRUPTED
            log.finish(record, status, message)
            raise
        except Exception as exc:  # a bug: record it, keep the traceback for the user
            _record_stage(log, record, stage, FAILED, repr(exc), {}, started, reporter, None)
            log.finish(record, RunStatus.FAILED, repr(exc))
            raise
        if "store_state" in outcome.numbers:
            record.options["store_state"] = outcome.numbers["store_state"]
            log.save_options(record)
        if ctx.promoted:
            record.version = ctx.promoted[-1]
        _record_stage(
            log,
            record,
            stage,
            outcome.status,
            outcome.summary,
            outcome.numbers,
            started,
            reporter,
            outcome.payload,
        )
        if outcome.status == StageStatus.STOPPED:
            log.finish(record, RunStatus.NOTHING_NEW)
            return record
    log.finish(record, RunStatus.FINISHED)
    return record


def _record_stage(log, record, stage, status, summary, numbers, started, reporter, payload) -> None:
    entry = StageRecord(stage.name, status, round(time.monotonic() - started, 1), numbers, summary)
    log.save_stage(record, entry)
    reporter.stage_finished(stage.name, entry, payload)
