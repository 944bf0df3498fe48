"""Honest live progress, settings checked by every command, offline decided once."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from personaforge.train.callbacks import ProgressCallback
from tests.helpers import run_cli


class Recorder:
    """Stands in for the terminal bar: records what each redraw would show."""

    is_live = True

    def __init__(self):
        self.shown: list[tuple[int, dict]] = []

    def update(self, step, **metrics):
        self.shown.append((step, metrics))


def test_the_live_line_shows_this_steps_numbers_or_a_dash(tmp_path):
    callback = ProgressCallback(tmp_path / "metrics.jsonl")
    callback._progress = Recorder()
    state = SimpleNamespace(global_step=0, max_steps=4, epoch=0.0, num_input_tokens_seen=0)
    for step in range(1, 5):
        state.global_step, state.epoch = step, step / 4
        callback.on_step_end(None, state, None)
        if step % 2 == 0:  # logging every 2 steps, as logging_steps=2 does
            callback.on_log(
                None, state, None, logs={"loss": 1.0 / step, "learning_rate": 1e-4 * step}
            )
    shown = callback._progress.shown
    by_step: dict[int, list[dict]] = {}
    for step, metrics in shown:
        by_step.setdefault(step, []).append(metrics)
    # Unlogged steps show dashes, never the previous step's loss or learning rate.
    assert all(m["loss"] == "-" and m["lr"] == "-" for m in by_step[1] + by_step[3])
    # A logged step first shows a dash, then its own values once they arrive.
    assert by_step[2][-1]["loss"] == 0.5 and by_step[2][-1]["lr"] == pytest.approx(2e-4)
    assert by_step[4][-1]["loss"] == 0.25 and by_step[4][-1]["lr"] == pytest.approx(4e-4)


@pytest.mark.parametrize(
    "command", [["status"], ["models", "list"], ["runs", "list"], ["base", "list"]]
)
def test_every_command_refuses_an_unknown_setting_from_any_layer(
    capsys, paths, monkeypatch, command
):
    code, _, err = run_cli(capsys, "--set", "train.bogus=1", *command)
    assert code == 2 and "unknown setting 'train.bogus'" in err and "did you mean 'train." in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.setenv("PERSONAFORGE_TRAIN__BOGUS", "1")
    code, _, err = run_cli(capsys, *command)
    assert code == 2 and "PERSONAFORGE_TRAIN__BOGUS" in err and "train.bogus" in err
    monkeypatch.delenv("PERSONAFORGE_TRAIN__BOGUS")
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("[train]\nbogus = 1\n")
    code, _, err = run_cli(capsys, *command)
    assert code == 2 and str(paths.config_file) in err and "train.bogus" in err


def test_config_commands_still_work_to_repair_a_bad_file(capsys, paths):
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text("[train]\nlora_rank = 8\nbogus = 1\n")
    code, out, _ = run_cli(capsys, "config", "path")
    assert code == 0 and str(paths.config_file) in out


def test_a_local_base_trains_without_touching_the_network(
    home_with_micro, sample_data, monkeypatch
):
    """The hub is never tried for a local or built-in base: every library is told offline first."""
    import huggingface_hub.constants

    from personaforge.config import IngestSettings, Settings
    from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
    from personaforge.ingest import ingest
    from personaforge.sample import sample_identity
    from personaforge.store import MemoryStore
    from personaforge.train.run import TrainRequest, train
    from tests.helpers import micro_settings

    with MemoryStore.open(home_with_micro.memory_store) as store:
        ingest(
            [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
        build_dataset(store, Settings(), home_with_micro, DatasetRequest(MixPlan("foundation")))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    attempts = []

    def refuse(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    result = train(
        home_with_micro,
        micro_settings(max_steps=2, rehearsal_share=0.0),
        TrainRequest(fresh=True, show_progress=False),
    )
    assert result.version == "v1" and attempts == []
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True


@pytest.mark.parametrize("rank", ["0", "3"])
def test_each_rank_places_its_4bit_model_on_its_own_gpu(monkeypatch, rank):
    """Under accelerate launch/torchrun every process loads its own copy: on LOCAL_RANK's GPU,
    not on whatever torch.cuda.current_device() says before an Accelerator exists (GPU 0)."""
    from personaforge.bases import BaseRef
    from personaforge.config import Settings
    from personaforge.train.backends import load_kwargs
    from personaforge.train.plan import TrainingPlan

    monkeypatch.setenv("LOCAL_RANK", rank)
    plan = TrainingPlan("hf", "cuda", "bf16", "4bit", "off", None, 0)
    kwargs = load_kwargs(BaseRef("org/model", "hub", "org/model"), Settings(), plan)
    assert kwargs["device_map"] == {"": int(rank)}
    assert kwargs["quantization_config"].load_in_4bit
