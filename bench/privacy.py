"""Benchmark: precision and recall of the privacy detectors, printed as JSON.

    .venv/bin/python bench/privacy.py                 # labelled set + the sample's planted secrets
    .venv/bin/python bench/privacy.py --no-planted    # labelled set only (no sample ingest)
    .venv/bin/python bench/privacy.py --list          # also list every miss and false positive

The labelled set is tests/fixtures/privacy/passages.jsonl (see labelled.py
there): short passages, half holding a secret or personal datum of a kind
privacy.py scrubs, half ordinary prose that only mentions one. A finding is a
true positive when it overlaps a labelled secret of its kind; recall counts
secrets caught with their kind. `held_out` repeats the numbers for the passages
written after the detectors were settled and never tuned against. The planted secrets are the sample person's
(src/personaforge/sample/planted.py), looked for in the memories that hold them
after a real ingest: the target there is 100%. Findings are never printed
with their text, only masked previews.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/fixtures/privacy holds the labelled set and its scorer

from tests.fixtures.privacy.labelled import load, planted_catches, score  # noqa: E402

from personaforge.dataset.privacy import find_secrets  # noqa: E402


def planted(find) -> dict:
    from personaforge.config import IngestSettings
    from personaforge.ingest import ingest
    from personaforge.sample import sample_identity, write_sample_data
    from personaforge.store import MemoryStore

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "sample"
        manifest = write_sample_data(root)
        with MemoryStore.open(Path(scratch) / "memories.db") as store:
            ingest([root], store, IngestSettings(), identity=sample_identity(), show_progress=False)
            memories = store.memories()
    results = planted_catches(memories, manifest["planted_secrets"], find)
    caught = sum(r["caught"] for r in results)
    return {
        "secrets": len(results),
        "caught": caught,
        "recall": round(caught / len(results), 4) if results else 1.0,
        "missed": [r for r in results if not r["caught"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-planted", action="store_true", help="skip the sample ingest")
    parser.add_argument("--list", action="store_true", help="list misses and false positives")
    args = parser.parse_args()
    started = time.perf_counter()
    passages = load()
    labelled = score(passages, find_secrets)
    seconds = time.perf_counter() - started
    # Passages written after the detectors were settled, never tuned against.
    held_out = score([p for p in passages if p.note == "held out"], find_secrets)
    if not args.list:
        for result in (labelled, held_out):
            result["missed"] = len(result["missed"])
            result["false_positives"] = len(result["false_positives"])
    report = {
        "benchmark": "privacy",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "labelled": labelled,
        "held_out": held_out,
        "labelled_seconds": round(seconds, 3),
        "planted": None if args.no_planted else planted(find_secrets),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
