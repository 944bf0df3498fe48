"""bench/persona.py on a micro persona: the JSON keys the issue names, from the real benchmark."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "persona.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_persona", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_persona_bench_prints_fact_accuracy_of_base_persona_and_grounded(
    tmp_path, micro_models_dir, sample_data, capsys
):
    from personaforge.config import set_in_file
    from personaforge.registry import Registry
    from personaforge.train.run import TrainRequest, train
    from tests.helpers import MICRO_BASE, micro_home, micro_settings

    paths = micro_home(tmp_path, micro_models_dir, sample_data)
    train(paths, micro_settings(max_steps=2), TrainRequest(fresh=True, show_progress=False))
    with Registry.open(paths) as registry:
        registry.promote("v1")
    for dotted, value in (
        ("model.base", MICRO_BASE),
        ("run.sources", str(sample_data)),  # where the sample's quiz is found
        ("gate.max_new_tokens", "8"),
        ("train.max_seq_length", "256"),
    ):
        set_in_file(paths, dotted, value)
    bench = load_bench()
    assert bench.main(["--home", str(paths.home), "--json", "--answers"]) == 0
    report = json.loads(capsys.readouterr().out)
    facts = report["facts"]
    assert report["version"] == "v1"
    # v1 was registered here, never evaluated: no gate answers for the voice score to read.
    assert "no gate answers" in report["style"]["skipped"]
    assert {"n", "base", "persona", "grounded", "superseded_stated"} <= set(facts)
    quiz = json.loads((sample_data / "sample-manifest.json").read_text())["quiz"]
    # Every quiz question her notes answer, plus the profile's own slots the quiz leaves out.
    assert facts["unanswerable"] == ["What outlives every app?"]
    assert facts["n"] == len(facts["answers"]) > len(quiz) - 1
    assert all(0 <= facts[key] <= 1 for key in ("base", "persona", "grounded", "recited"))
    assert facts["secrets_stated"] == {"base": 0, "persona": 0, "grounded": 0}
    assert [row["question"] for row in facts["answers"][: len(quiz) - 1]] == [
        q["question"] for q in quiz if q["question"] != "What outlives every app?"
    ]
    assert bench.main(["--home", str(tmp_path / "nowhere")]) == 1  # one line, no traceback
