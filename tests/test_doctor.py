"""doctor on this machine: ready with the tiny base, numbered problems otherwise."""

from __future__ import annotations

import json

from personaforge.config import load_settings
from personaforge.doctor import run_doctor
from tests.helpers import run_cli


def test_doctor_is_ready_with_the_tiny_base(home_with_micro):
    loaded = load_settings(home_with_micro, ["model.base=tiny:micro"], environ={})
    report = run_doctor(loaded, home_with_micro)
    assert not report.problems, [c.value for c in report.problems]
    labels = {(c.section, c.label): c.value for c in report.checks}
    import torch

    expected_device = "CUDA" if torch.cuda.is_available() else "CPU only"
    assert expected_device in labels[("device", "accelerator")]
    # The installed distribution's version; CUDA builds add a local tag (+cu130) to torch's own.
    assert labels[("packages", "torch")].split("+")[0] == torch.__version__.split("+")[0]
    assert "GiB" in labels[("disk", "free under home")]
    assert report.plan["fits"] is True
    if not torch.cuda.is_available():
        assert (report.plan["backend"], report.plan["precision"], report.plan["quantization"]) == (
            "hf",
            "fp32",
            "none",
        )
    methods = {row["method"] for row in report.memory_table}
    assert {"LoRA 16-bit", "QLoRA 4-bit"} <= methods


def test_doctor_cli_exit_codes_and_numbered_problems(home_with_micro, capsys):
    code, out, err = run_cli(capsys, "doctor", "--set", "model.base=tiny:micro")
    assert code == 0 and "Ready to train." in err and "training plan" in out

    code, out, err = run_cli(capsys, "doctor", "--set", "model.base=./no/such/model")
    assert code == 1
    assert "Not ready: 1 problem" in err
    assert "  1. base model / model.base" in err


def test_doctor_json_reports_problems_for_an_unreachable_hub_model(home_with_micro, capsys):
    # conftest sets HF_HUB_OFFLINE=1: the hub counts as unreachable and nothing is cached.
    code, out, _ = run_cli(
        capsys, "doctor", "--json", "--set", "model.base=personaforge-test/Nothing-7B"
    )
    report = json.loads(out)
    assert code == 1 and report["ready"] is False
    problems = [c for c in report["checks"] if c["status"] == "problem"]
    assert any("hub is unreachable" in c["value"] for c in problems)
    assert report["plan"]["estimated_gib"] > 1  # sized from the name: 7B


def test_doctor_on_a_fresh_home_chooses_a_base_for_the_machine_and_says_why(paths):
    from personaforge.train.plan import Accelerator

    loaded = load_settings(paths, [], environ={})  # model.base unset: auto
    cpu = Accelerator("cpu", "test cpu", 24 * 1024**3, cpu_cores=2)
    report = run_doctor(loaded, paths, cpu)
    labels = [(c.label, c.value) for c in report.checks if c.section == "base model"]
    assert labels[0] == ("model.base", "smollm2-135m (builtin)")
    assert (
        "why",
        "auto chose it: CPU only: the built-in 135M chat model trains a first version "
        "in about half an hour; larger models take hours on a CPU",
    ) in labels
    assert not report.problems and not paths.home.exists()  # doctor builds and writes nothing


def test_doctor_offline_with_a_hub_base_names_the_builtin_real_base_as_the_fix(paths, capsys):
    # conftest sets HF_HUB_OFFLINE=1: the hub is unreachable and nothing is cached.
    code, _, err = run_cli(capsys, "doctor", "--set", "model.base=Qwen/Qwen2.5-0.5B-Instruct")
    assert code == 1
    assert "fix: `personaforge config set model.base smollm2-135m`" in err
    assert "'tiny'" not in err  # the toy is no fix for a person's persona


def test_doctor_warns_when_the_next_run_would_not_fit(home_with_micro, sample_data, monkeypatch):
    """The estimate adds up what a run writes; below it, a warning with how much to free."""
    from personaforge import doctor

    loaded = load_settings(
        home_with_micro,
        ["model.base=tiny:micro", f"run.sources={sample_data}", "run.export_formats=adapter"],
        environ={},
    )
    report = run_doctor(loaded, home_with_micro)
    (row,) = [c for c in report.checks if c.label == "the next run writes"]
    assert row.status == "ok" and "checkpoints" in row.value and "store" in row.value
    from personaforge.bases import describe_base, resolve_base

    info = describe_base(resolve_base("tiny:micro", home_with_micro))
    parts = doctor.next_run_bytes(home_with_micro, loaded, info)
    # 3 checkpoints of adapter + 2 moments = 9 adapters; the version and its export 1 each.
    assert parts["checkpoints"] == 9 * parts["version"] == 9 * parts["exports"]
    # No store yet: twice the sources' bytes (text and full-text index).
    source_bytes = sum(p.stat().st_size for p in sample_data.rglob("*") if p.is_file())
    assert parts["store"] == 2 * source_bytes
    # A disk with one byte less than that: a warning (not a problem: today's run may be small).
    monkeypatch.setattr(doctor, "_free_disk", lambda path: sum(parts.values()) - 1)
    report = run_doctor(loaded, home_with_micro)
    (row,) = [c for c in report.checks if c.label == "the next run writes"]
    assert row.status == "warn" and "free at least 1 B under" in row.fix
