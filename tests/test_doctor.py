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
