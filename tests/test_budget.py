"""Time budgets and estimates: parsing, the time model, fitting a budget, the probe, the deadline."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personaforge.config import ConfigError, Settings, TrainSettings, load_settings, parse_budget
from personaforge.train.budget import (
    EVAL_SHARE,
    FIT_SHARE,
    Shape,
    Workload,
    budget_seconds,
    estimate,
    evaluations,
    fit_budget,
    rehearsal_count,
    shares,
    stratified_sample,
)
from personaforge.train.probe import Speed

# -- train.time_budget --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("90s", 90.0),
        ("45", 2700.0),  # a bare number is minutes
        (" 1.5H ", 5400.0),
        ("none", None),
        ("off", None),
        ("auto", "auto"),
    ],
)
def test_budgets_parse(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "30x", "m30", "-5m", "0m", "30m!"])
def test_a_bad_budget_is_one_clear_line(paths, text):
    with pytest.raises(ConfigError) as caught:
        load_settings(paths, [f"train.time_budget={text}"], environ={})
    message = str(caught.value)
    assert message.startswith("train.time_budget (from --set") and "\n" not in message
    assert "30m" in message or "no time at all" in message


def test_auto_is_thirty_minutes_without_cuda_and_none_with_it():
    auto = TrainSettings()
    assert budget_seconds(auto, "cpu") == (1800.0, "auto: 30m without CUDA")
    assert budget_seconds(auto, "mps")[0] == 1800.0
    assert budget_seconds(auto, "cuda") == (None, "auto: no budget on CUDA")
    assert budget_seconds(TrainSettings(time_budget="2h"), "cuda")[0] == 7200.0
    assert budget_seconds(TrainSettings(time_budget="none"), "cpu")[0] is None


# -- the time model ---------------------------------------------------------------------------------


def speed(train_spt: float = 0.01, eval_spt: float = 0.002, load: float = 5.0) -> Speed:
    return Speed(
        train_seconds_per_token=train_spt,
        eval_seconds_per_token=eval_spt,
        generate_seconds_per_token=0.05,
        load_seconds=load,
        peak_memory_bytes=2**30,
        tokens_measured=3000,
        steps_measured=3,
        measured_at="2026-12-01T00:00:00+00:00",
        key={},
    )


def work(rows: int = 100, tokens: int = 200, kinds=("voice", "voice", "reflection", "knowledge")):
    strata = [f"{kinds[i % len(kinds)]}/{'new' if i % 5 == 0 else 'old'}" for i in range(rows)]
    return Workload([tokens] * rows, strata, [150] * 64, [100] * 10)


def test_evaluations_are_counted_once_where_epoch_ends_and_intervals_meet():
    # 10 steps per epoch, 3 epochs, every 5 steps: 5, 10, 15, 20, 25, 30 plus before and after.
    assert evaluations(30, 10, 3, 5) == 8
    # only epoch ends: 10, 20, 30, plus before and after
    assert evaluations(30, 10, 3, None) == 5
    # max_steps cut the run at 12: epoch end 10, the cut at 12, interval 5, 10; before, after
    assert evaluations(12, 10, 3, 5) == 5


def test_estimate_adds_load_training_and_evaluation():
    train = TrainSettings(epochs=2, batch_size=4, grad_accum=1, rehearsal_share=0.2, eval_steps=10)
    load = work(rows=100, tokens=200)
    shape = Shape(2, list(range(100)), list(range(10)), 10)
    got = estimate(load, shape, train, speed())
    rehearsal = rehearsal_count(100, 64, 0.2)  # ceil(100 * 0.2 / 0.8) = 25
    assert rehearsal == 25 and got.rehearsal_rows == 25
    assert got.steps == 2 * 32  # ceil(125 / 4) per epoch
    assert got.tokens == 2 * (100 * 200 + 25 * 150)
    assert got.train_s == pytest.approx(got.tokens * 0.01)
    assert (
        got.evaluations == evaluations(64, 32, 2, 10) == 2 + len({10, 20, 30, 32, 40, 50, 60, 64})
    )
    assert got.eval_s == pytest.approx(got.evaluations * 1000 * 0.002)
    assert got.total_s == pytest.approx(5.0 + got.train_s + got.eval_s)


def test_max_steps_cuts_the_estimate():
    train = TrainSettings(epochs=3, batch_size=4, grad_accum=1, rehearsal_share=0, max_steps=10)
    got = estimate(work(rows=100), Shape(3, list(range(100)), [], None), train, speed())
    assert got.steps == 10 and got.tokens == 10 * 4 * 200 and got.evaluations == 0


# -- sampling keeps the shares ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6),
    fraction=st.floats(min_value=0.01, max_value=1.0),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_a_stratified_sample_keeps_every_share_within_one_row(sizes, fraction, seed):
    strata = [f"s{i}" for i, size in enumerate(sizes) for _ in range(size)]
    count = max(1, round(len(strata) * fraction))
    chosen = stratified_sample(strata, count, seed)
    assert len(chosen) == count == len(set(chosen)) and chosen == sorted(chosen)
    taken = Counter(strata[i] for i in chosen)
    for name, size in Counter(strata).items():
        assert abs(taken[name] - count * size / len(strata)) < 1  # largest remainder
    assert stratified_sample(strata, count, seed) == chosen  # seeded


# -- fitting a budget ---------------------------------------------------------------------------------


def fitted(budget_s, rows=100, epochs=3, **train):
    settings_ = Settings(
        train={"epochs": epochs, "batch_size": 4, "grad_accum": 1, "eval_steps": 5, **train}
    )
    return fit_budget(work(rows=rows), settings_, speed(), (budget_s, "test"))


def test_a_run_that_fits_is_left_as_set():
    fit = fitted(None)
    assert not fit.bound and fit.fitted == fit.full and not fit.over
    roomy = fitted(fit.full.total_s / FIT_SHARE + 1)
    assert not roomy.bound and roomy.shape.epochs == 3 and roomy.shape.eval_steps == 5


def test_evaluation_goes_first_then_epochs():
    full = fitted(None).full
    # Too long only by half its evaluation: evaluating at epoch ends is enough.
    first = fitted((full.load_s + full.train_s + full.eval_s / 2) / FIT_SHARE)
    assert first.bound and first.shape.epochs == 3 and first.shape.eval_steps is None
    assert first.changes[0].startswith("evaluation during training at epoch ends only")
    assert len(first.changes) == 1 and first.fitted.total_s <= first.budget_s * FIT_SHARE
    # A budget for about two epochs of training: one epoch goes, every row stays.
    two = fitted((full.load_s + full.train_s * 2 / 3 + 20) / FIT_SHARE)
    assert two.shape.epochs == 2 and len(two.shape.rows) == 100
    assert "epochs 3 -> 2" in two.changes


def test_a_tight_budget_samples_rows_keeping_the_shares():
    full = fitted(None).full
    budget = (full.load_s + full.train_s / 3 / 4) / FIT_SHARE  # about a quarter of one epoch
    fit = fitted(budget)
    assert fit.shape.epochs == 1 and 10 < len(fit.shape.rows) < 40
    assert fit.fitted.total_s <= budget * FIT_SHARE and not fit.over
    one_more = fitted(budget, rows=100)
    assert one_more.shape == fit.shape  # deterministic
    every = shares(work().strata, list(range(100)))
    kept = shares(work().strata, fit.shape.rows)
    assert kept.keys() == every.keys()
    assert all(abs(kept[k] - every[k]) <= 1 / len(fit.shape.rows) + 1e-9 for k in every)
    assert any("sampled keeping each kind's and new/replayed share" in c for c in fit.changes)
    # Evaluation stays inside its share of the budget.
    assert fit.fitted.eval_s <= EVAL_SHARE * budget + 1e-6 or len(fit.shape.eval_rows) == 8


def test_a_budget_nothing_fits_says_so():
    fit = fitted(3.0)  # loading alone takes 5 s
    assert fit.over and len(fit.shape.rows) == 1
    assert fit.describe()["bound"] is True


# -- the deadline ------------------------------------------------------------------------------------


class _State:
    def __init__(self, step, max_steps):
        self.global_step, self.max_steps = step, max_steps


class _Control:
    should_training_stop = False


def test_the_deadline_stops_a_step_before_it_would_be_passed(monkeypatch):
    from personaforge.train import callbacks

    clock = [100.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: clock[0])
    guard = callbacks.DeadlineCallback(deadline=130.0, reserve_s=5.0)
    guard.on_train_begin(None, _State(0, 100), _Control())
    for step in range(1, 100):
        clock[0] += 4.0  # each step takes 4 s
        control = guard.on_step_end(None, _State(step, 100), _Control())
        if control.should_training_stop:
            break
    # After step 5 (t=120): the next step would end at 124, plus 5 s reserve = 129 < 130: go on.
    # After step 6 (t=124): 128 + 5 = 133 >= 130: stop.
    assert guard.stopped_at == 6
    never = callbacks.DeadlineCallback(deadline=10_000.0, reserve_s=5.0)
    never.on_train_begin(None, _State(0, 3), _Control())
    assert not never.on_step_end(None, _State(3, 3), _Control()).should_training_stop


# -- the probe and training under a budget, on the micro base --------------------------------------


def _write_speed(paths, key, train_spt):
    """A cached probe saying this machine is `train_spt` seconds per token (fast tests)."""
    from dataclasses import asdict, replace

    from personaforge.train.probe import _file

    path = _file(paths, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    measured = replace(speed(train_spt, train_spt / 3, 0.5), key=key)
    path.write_text(json.dumps(asdict(measured)))


def _key(paths, settings_):
    from personaforge.bases import base_fingerprint, resolve_base
    from personaforge.train.plan import detect_accelerator
    from personaforge.train.probe import speed_key
    from personaforge.train.run import preflight

    ref = resolve_base(settings_.model.base, paths)
    return speed_key(
        base_fingerprint(ref), detect_accelerator(), preflight(ref, settings_), settings_
    )


@pytest.fixture
def budget_home(tmp_path, micro_models_dir, sample_data):
    from tests.helpers import micro_home

    return micro_home(tmp_path, micro_models_dir, sample_data)


def test_the_probe_measures_once_and_is_cached_per_settings(budget_home):
    from personaforge.train.run import TrainRequest, train
    from tests.helpers import micro_settings

    settings_ = micro_settings(rehearsal_share=0.0, time_budget="30m")
    request = TrainRequest(fresh=True, show_progress=False, dry_run=True)
    first = train(budget_home, settings_, request).estimate
    assert first.speed is not None and not first.speed_cached
    assert first.speed.tokens_measured > 0 and first.speed.steps_measured == 3
    assert len(list(budget_home.probes.glob("*.json"))) == 1
    again = train(budget_home, settings_, request).estimate
    assert again.speed_cached and again.speed == first.speed
    wider = train(budget_home, micro_settings(rehearsal_share=0.0, batch_size=2), request).estimate
    assert not wider.speed_cached  # another step shape: measured again
    assert len(list(budget_home.probes.glob("*.json"))) == 2
    # A dry run trains nothing and leaves no run folder or version.
    assert not budget_home.runs.exists() and not budget_home.adapters.exists()


def test_the_probe_counts_tokens_as_the_estimate_does(budget_home):
    """The probe's tokens (the trainer's count) and the estimate's (row_tokens) are one measure."""
    from personaforge.bases import load_tokenizer, resolve_base
    from personaforge.train.budget import row_tokens
    from personaforge.train.run import TrainRequest, load_rows, train
    from tests.helpers import micro_settings

    settings_ = micro_settings(rehearsal_share=0.0, max_steps=-1, epochs=1)
    _, rows, _ = load_rows(budget_home, None, "sft")
    result = train(budget_home, settings_, TrainRequest(fresh=True, show_progress=False))
    tokenizer = load_tokenizer(resolve_base(settings_.model.base, budget_home))
    assert result.card["metrics"]["tokens_seen"] == sum(row_tokens(tokenizer, rows, 256))


def test_a_budget_that_binds_samples_the_mix_and_the_card_says_so(budget_home):
    from personaforge.train.run import TrainRequest, load_rows, train
    from tests.helpers import micro_settings

    settings_ = micro_settings(rehearsal_share=0.0, max_steps=-1, epochs=2, time_budget="60s")
    # This machine, says the cached probe, trains 10 tokens a second: far too slow for 60 s.
    _write_speed(budget_home, _key(budget_home, settings_), 0.1)
    _, rows, _ = load_rows(budget_home, None, "sft")
    result = train(budget_home, settings_, TrainRequest(fresh=True, show_progress=False))
    time_record = result.card["metrics"]["time"]
    assert time_record["bound"] is True and time_record["budget_seconds"] == 60.0
    assert time_record["epochs"] == 1 and time_record["of_examples"] == len(rows)
    assert 0 < time_record["examples"] < len(rows) / 4
    assert result.card["dataset"]["train_examples"] == time_record["examples"]
    assert result.card["hyperparameters"]["epochs"] == 2  # the user's settings, as set
    assert any("epochs 2 -> 1" in c for c in time_record["changes"])
    assert result.version == "v1" and not result.interrupted


def test_a_run_slower_than_its_estimate_stops_at_the_budget_as_a_version(budget_home):
    from personaforge.train.run import TrainRequest, train
    from tests.helpers import micro_settings

    # 4,000 steps: the micro base trains about 20 steps a second on 2 cores, so the 20 s
    # deadline binds with room to spare (400 steps once finished just inside it).
    settings_ = micro_settings(
        rehearsal_share=0.0, max_steps=4000, eval_steps=10_000, time_budget="20s"
    )
    # The cached probe promises a machine a thousand times faster than any: nothing is cut...
    _write_speed(budget_home, _key(budget_home, settings_), 1e-7)
    result = train(budget_home, settings_, TrainRequest(fresh=True, show_progress=False))
    time_record = result.card["metrics"]["time"]
    # ...so the deadline has to stop it: a finished, saved version that says where it stopped.
    assert result.version == "v1" and not result.interrupted
    assert time_record["bound"] is True and time_record["of_steps"] == 4000
    assert 0 < time_record["stopped_at_step"] < 4000
    assert result.card["metrics"]["steps"] == time_record["stopped_at_step"]
    assert time_record["unbudgeted_seconds"] < 20  # the estimate said it would fit


def test_train_dry_run_prints_the_plan_and_trains_nothing(budget_home, capsys, monkeypatch):
    from personaforge.cli import main

    monkeypatch.setenv("PERSONAFORGE_HOME", str(budget_home.home))
    try:
        main(
            [
                "--set",
                "model.base=tiny:micro",
                "--set",
                "train.time_budget=2h",
                "train",
                "--dry-run",
            ]
        )
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    out = capsys.readouterr().out
    assert code == 0
    assert "plan: hf backend on cpu" in out
    assert "budget: 2.0 h (train.time_budget = 2h)" in out
    assert "speed on this machine (probe just now" in out
    assert "peak memory:" in out and "disk: about" in out
    assert not budget_home.runs.exists() and not budget_home.adapters.exists()


def test_the_run_record_says_when_the_budget_bound_training():
    from personaforge.pipeline import budget_note

    sampled = {"bound": True, "budget_seconds": 1800.0, "examples": 412, "of_examples": 1668}
    assert budget_note({"time": {**sampled, "epochs": 1}}) == (
        " (bound by the 30.0 min time budget: 412 of 1,668 examples, 1 epoch)"
    )
    stopped = {"bound": True, "budget_seconds": 600.0, "stopped_at_step": 37, "of_steps": 52}
    assert budget_note({"time": stopped}) == (
        " (bound by the 10.0 min time budget: stopped at step 37 of 52)"
    )
    assert budget_note({"time": {**sampled, "bound": False}}) == ""
    assert budget_note({}) == ""


def test_the_gate_estimate_counts_what_the_gate_reads_and_generates(budget_home):
    from personaforge.bases import load_tokenizer, resolve_base
    from personaforge.config import Settings
    from personaforge.evaluate.measure import PROBES, SHOWCASE, general_texts
    from personaforge.train.estimate import gate_estimate

    ref = resolve_base("tiny:micro", budget_home)
    tokenizer = load_tokenizer(ref)
    settings_ = Settings(
        gate={"max_eval_examples": 4, "memorisation_prompts": 3, "general_texts": 5}
    )
    load = Workload([], [], [], [100, 200, 300, 400, 500, 600])  # mean 350
    got = gate_estimate(settings_, ref, tokenizer, load, speed(), models=2)
    texts = general_texts(ref.location, 5)
    general = sum(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)
    assert got.read_tokens == 350 * 4 + general
    assert got.generated_tokens == (len(PROBES) + 3 + len(SHOWCASE)) * 48
    per_model = got.read_tokens * 0.002 + got.generated_tokens * 0.05
    assert got.seconds == pytest.approx(5.0 + 2 * per_model)
