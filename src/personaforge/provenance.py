"""Which versions learned from a note: memory -> examples -> datasets -> versions (and their heirs).

    found = provenance(paths, match_memories(store, "~/vault/People/Ingrid.md"))

Every example carries the ids of the memories it came from (`meta.memory_ids`),
every version names its dataset, and every version names its parent. A version
that learned from a dataset holding the memory's examples *trained* on it
("direct"); a version warm-started from such a version carries what its parent
learned ("through vN"). Examples in a dataset's eval files were only measured
against, never trained on, and are listed apart.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personaforge.errors import UserError
from personaforge.paths import Paths
from personaforge.store import Memory, MemoryStore

# What each method trains on; the eval files are only measured against.
TRAINED_BY = {"sft": "train.jsonl", "dpo": "preference.jsonl"}
TRAINED_FILES = tuple(TRAINED_BY.values())
MEASURED_FILES = ("eval.jsonl", "preference_eval.jsonl")


def match_memories(
    store: MemoryStore, target: str | None = None, search: str | None = None
) -> list[Memory]:
    """The live memories a path (file or folder), a memory id (or prefix), or a search names."""
    if (target is None) == (search is None):
        raise UserError(
            "name what to look for: a PATH, a MEMORY_ID, or --search TEXT (one of them)"
        )
    if search is not None:
        return [memory for memory, _ in store.search(search, limit=10_000)]
    assert target is not None
    path = Path(target).expanduser()
    if path.exists():
        found = memories_from_path(store, path.resolve())
        if not found:
            raise UserError(f"no memory in the store comes from {path}")
        return found
    try:
        return [store.get(target)]
    except UserError:
        raise UserError(
            f"'{target}' is neither a file or folder nor a memory id in the store"
        ) from None


def memories_from_path(store: MemoryStore, path: Path) -> list[Memory]:
    """Memories read from a file (or any file under a folder).

    By the path ingest recorded, or, for a note whose vault has moved since,
    by its vault-relative locator ("vault/People/Ingrid.md" ends the new path).
    """
    resolved = str(path)
    memories = store.memories()
    found = [
        m
        for m in memories
        if m.file_path == resolved or m.file_path.startswith(resolved.rstrip("/") + "/")
    ]
    if found or not path.is_file():
        return found
    return [
        m
        for m in memories
        if m.source == "vault" and resolved.endswith("/" + m.locator.split("#", 1)[0])
    ]


@dataclass
class DatasetUse:
    dataset: str
    trained: dict[str, list[str]] = field(default_factory=dict)  # file -> example ids
    measured: list[str] = field(default_factory=list)  # example ids in eval files

    @property
    def trained_count(self) -> int:
        return sum(len(ids) for ids in self.trained.values())


@dataclass
class Provenance:
    memory_ids: list[str]
    datasets: list[DatasetUse]
    versions: dict[str, str]  # version -> "direct" or "through vN"

    def as_dict(self) -> dict[str, Any]:
        return {
            "memories": self.memory_ids,
            "datasets": [vars(d) for d in self.datasets],
            "versions": self.versions,
        }


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of one dataset JSONL file ([] when the dataset has no such file)."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def dataset_folders(paths: Paths) -> list[Path]:
    """Every built dataset's folder, in id order."""
    return sorted(paths.datasets.glob("ds-*")) if paths.datasets.exists() else []


def built_from(row: dict[str, Any], memory_ids: set[str]) -> bool:
    """Whether a dataset row was built from one of these memories."""
    return bool(memory_ids & set(row["meta"].get("memory_ids", [])))


def dataset_uses(paths: Paths, memory_ids: set[str]) -> list[DatasetUse]:
    """Every dataset holding an example built from one of `memory_ids`, with those examples."""
    uses = []
    for folder in dataset_folders(paths):
        use = DatasetUse(folder.name)
        for name in TRAINED_FILES + MEASURED_FILES:
            hits = [
                row["meta"]["id"] for row in read_rows(folder / name) if built_from(row, memory_ids)
            ]
            if hits and name in TRAINED_FILES:
                use.trained[name] = hits
            else:
                use.measured += hits
        if use.trained or use.measured:
            uses.append(use)
    return uses


def versions_that_learned(paths: Paths, trained: set[tuple[str, str]]) -> dict[str, str]:
    """version -> "direct" (its method trained on one of the (dataset, file) pairs) or
    "through vN" (an ancestor did)."""
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        versions = registry.versions()
    learned: dict[str, str] = {}
    for version in versions:  # in number order: a parent is decided before its children
        if (version.dataset_id, TRAINED_BY.get(version.method, "")) in trained:
            learned[version.name] = "direct"
        elif version.parent in learned:
            origin = learned[version.parent]
            learned[version.name] = origin if origin != "direct" else f"through {version.parent}"
    return learned


def provenance(paths: Paths, memory_ids: list[str]) -> Provenance:
    uses = dataset_uses(paths, set(memory_ids))
    trained_on = {(use.dataset, name) for use in uses for name in use.trained}
    return Provenance(memory_ids, uses, versions_that_learned(paths, trained_on))


def learned_from(paths: Paths, version: str) -> dict[str, Any]:
    """How many memories, and from which sources, a version learned (its lineage included)."""
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        chain = []
        name: str | None = version
        while name:
            record = registry.get(name)
            chain.append((record.dataset_id, TRAINED_BY.get(record.method, "train.jsonl")))
            name = record.parent
    memories: set[str] = set()
    sources: Counter[str] = Counter()
    for dataset, file in dict.fromkeys(chain):
        for row in read_rows(paths.datasets / dataset / file):
            new = set(row["meta"].get("memory_ids", [])) - memories
            memories |= new
            sources[row["meta"].get("source", "?")] += len(new)
    return {"memories": len(memories), "sources": dict(sources.most_common())}
