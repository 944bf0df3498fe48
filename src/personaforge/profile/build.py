"""Build, save, load and compare profiles.

A profile is built from the live memory store. For a version it covers what
that version could have learned: memories dated up to the newest memory in
the datasets of the version and its ancestors (`learned_until`). So the
profile of v1 built today still says what v1 knew, and `diff v1 v2` shows
what changed between the two cycles.

Files: `USER_PROFILE.md` (to read) and `USER_PROFILE.json` (to diff and
check), in the home and, for a version, in its adapter folder; `write_profile`
puts a copy anywhere else (next to an export).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from personaforge.atomic import atomic_write_text
from personaforge.config import Settings
from personaforge.dataset.privacy import scrub
from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.profile.facts import Fact, merge, normalise, slot_of
from personaforge.profile.probe import check_persona, require_store
from personaforge.profile.records import ProbeResult, Profile, ProfileDiff
from personaforge.profile.rules import extract_candidates
from personaforge.profile.style import measure_style
from personaforge.store import MemoryStore

MARKDOWN = "USER_PROFILE.md"
DATA = "USER_PROFILE.json"
DATASET_FILES = ("train.jsonl", "eval.jsonl", "preference.jsonl", "preference_eval.jsonl")
QUOTE_WITHHELD = "(quote withheld: it holds private data)"


# -- what a version learned ---------------------------------------------------------------------------


def learned_until(paths: Paths, version: str) -> str | None:
    """The newest memory date in the datasets of `version` and its ancestors (None: unknown)."""
    from personaforge.registry import read_card

    newest: str | None = None
    name: str | None = version
    seen: set[str] = set()
    while name and name not in seen:
        seen.add(name)
        folder = paths.adapters / name
        if not (folder / "personaforge.json").exists():
            raise UserError(f"no adapter version '{name}'; see `personaforge models list`")
        card = read_card(folder)
        dataset = paths.datasets / card["dataset"]["id"]
        for file in DATASET_FILES:
            path = dataset / file
            if not path.exists():
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                day = (json.loads(line).get("meta") or {}).get("date")
                if isinstance(day, str) and (newest is None or day[:10] > newest):
                    newest = day[:10]
        name = card.get("parent")
    return newest


# -- privacy -----------------------------------------------------------------------------------------


def scrub_facts(facts: list[Fact], policy: dict[str, str]) -> tuple[list[Fact], dict[str, int]]:
    """Apply the privacy policy to every value and quote: a dropped kind drops the fact."""
    kept, counts = [], {"facts_dropped": 0, "values_redacted": 0, "quotes_withheld": 0}
    for fact in facts:
        value = scrub(fact.value, policy)
        if value.drop:
            counts["facts_dropped"] += 1
            continue
        if value.findings:
            counts["values_redacted"] += 1
            fact.value = value.text
        for evidence in fact.evidence:
            quote = scrub(evidence.quote, policy)
            if quote.findings:
                counts["quotes_withheld"] += 1
                evidence.quote = QUOTE_WITHHELD
        kept.append(fact)
    return kept, counts


# -- building ----------------------------------------------------------------------------------------


def _person(settings: Settings) -> str:
    name = settings.dataset.person_name
    return name if name and name != "me" else "you"


def build_profile(
    paths: Paths,
    settings: Settings,
    version: str | None = None,
    *,
    teacher: str | None = None,
    probe: bool | str = True,
    as_of: str | None = None,
) -> Profile:
    """The profile from the memory store, optionally checked against a trained version.

    version: describe what this version learned (facts up to `learned_until`) and probe it.
    teacher: an OpenAI-compatible endpoint; adds the LLM extractor to the rules.
    probe: False to skip probing; a version name to probe that one (e.g. the current
      version when `version` is None); True probes `version` when one is given.
    as_of: an ISO day that bounds the memories read (overrides the version's bound).
    """
    if not paths.memory_store.exists():
        raise UserError(
            f"no memory store yet at {paths.memory_store}; run `personaforge ingest PATH` first"
        )
    bound = as_of or (learned_until(paths, version) if version else None)
    until = (date.fromisoformat(bound[:10]) + timedelta(days=1)).isoformat() if bound else None
    with MemoryStore.open(paths.memory_store) as store:
        memories = store.memories(until=until)
    if not memories:
        raise UserError("the memory store holds no live memories to build a profile from")
    candidates = extract_candidates(memories)
    extractors: dict[str, Any] = {"rules": {"candidates": len(candidates)}}
    if teacher:
        from personaforge.profile.teacher import teacher_candidates

        found, report = teacher_candidates(memories, teacher, settings.dataset, paths.teacher_cache)
        candidates += found
        extractors["teacher"] = report.as_dict()
    policy = settings.privacy.model_dump()
    facts, privacy = scrub_facts(merge(candidates), policy)
    sources: dict[str, int] = {}
    for memory in memories:
        sources[memory.source] = sources.get(memory.source, 0) + 1
    profile = Profile(
        person=_person(settings),
        version=version,
        as_of=bound or max(m.created_at[:10] for m in memories),
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        memories=len(memories),
        sources=dict(sorted(sources.items())),
        facts=facts,
        style=measure_style(memories, policy),
        extractors=extractors,
        privacy=privacy,
    )
    target = probe if isinstance(probe, str) else (version if probe else None)
    if target:
        profile.probe = check_persona(paths, settings, target, facts)
    return profile


def probe_persona(
    paths: Paths,
    settings: Settings,
    version: str,
    facts: list[Fact] | None = None,
    questions: list[tuple[str, tuple[str, ...]]] | None = None,
) -> ProbeResult:
    """Ask `version` the fixed questions and check every claim; `facts` default to its profile's."""
    if facts is None:
        require_store(paths)
        facts = build_profile(paths, settings, version, probe=False).facts
    return check_persona(paths, settings, version, facts, questions)


# -- files -------------------------------------------------------------------------------------------


def write_profile(paths: Paths, profile: Profile, target_dir: Path | None = None) -> list[Path]:
    """Write USER_PROFILE.md and USER_PROFILE.json atomically; returns the files written.

    target_dir None: into the home, and for a versioned profile also into the
    version's adapter folder (where `profile diff` finds it). Otherwise into target_dir only
    (the lead's hook for exports).
    """
    from personaforge.profile.render import render_markdown

    folders = [target_dir] if target_dir is not None else [paths.home]
    if target_dir is None and profile.version and (paths.adapters / profile.version).is_dir():
        folders.append(paths.adapters / profile.version)
    markdown = render_markdown(profile)
    data = json.dumps(profile.as_dict(), indent=2, ensure_ascii=False) + "\n"
    written = []
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / DATA, data)
        atomic_write_text(folder / MARKDOWN, markdown)
        written += [folder / MARKDOWN, folder / DATA]
    return written


def profile_file(paths: Paths, ref: str | None = None) -> Path:
    """Where a profile lives: None -> the home's, 'vN' -> the version's, or a path to a .json file."""
    if ref is None:
        path = paths.home / DATA
        hint = "run `personaforge profile build` first"
    elif ref.endswith(".json") or "/" in ref:
        path, hint = Path(ref).expanduser(), "check the path"
    else:
        path = paths.adapters / ref / DATA
        hint = f"run `personaforge profile build --version {ref}` first"
    if not path.exists():
        raise UserError(f"no profile at {path}; {hint}")
    return path


def load_profile(paths: Paths, ref: str | None = None) -> Profile:
    path = profile_file(paths, ref)
    try:
        return Profile.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is not a profile personaforge wrote ({exc}); rebuild it") from exc


# -- comparing ---------------------------------------------------------------------------------------


def diff_profiles(a: Profile, b: Profile) -> ProfileDiff:
    """What changed from profile `a` to profile `b`, fact by fact."""
    old, new = {f.id: f for f in a.facts}, {f.id: f for f in b.facts}
    superseded = [
        new[i]
        for i in old
        if i in new and old[i].status == "current" and new[i].status != "current"
    ]
    changed = []
    for key in sorted({f.key for f in a.facts + b.facts if slot_of(f.key).single}):
        before, after = a.fact(key), b.fact(key)
        if (before.id if before else None) == (after.id if after else None):
            continue
        changed.append(
            {
                "key": key,
                "label": (after or before).label,  # type: ignore[union-attr]
                "old": before.value if before else None,
                "new": after.value if after else None,
                "since": after.first_seen if after else None,
            }
        )
    added = [f for i, f in new.items() if i not in old]
    dropped = [f for i, f in old.items() if i not in new]
    # The same thing named more fully ("B1 exam on 24 September" -> "Dutch B1 exam on
    # 24 September") is a changed fact, not one dropped and another added.
    for gone in list(dropped):
        wider = next(
            (f for f in added if f.key == gone.key and _rewords(gone.value, f.value)), None
        )
        if wider is not None:
            dropped.remove(gone)
            added.remove(wider)
            changed.append(
                {
                    "key": gone.key,
                    "label": wider.label,
                    "old": gone.value,
                    "new": wider.value,
                    "since": None,
                }
            )
    return ProfileDiff(
        old=a.version or "home",
        new=b.version or "home",
        added=added,
        dropped=dropped,
        superseded=superseded,
        changed=changed,
    )


def _rewords(old: str, new: str) -> bool:
    a, b = normalise(old), normalise(new)
    return a != b and (f" {a} " in f" {b} " or f" {b} " in f" {a} ")
