"""Settings: layering, origins, refusals with one clear line, file editing, docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personaforge.config import (
    ALL_LINEAR_TARGETS,
    ConfigError,
    Settings,
    load_settings,
    render_reference_markdown,
    render_toml,
    set_in_file,
    unset_in_file,
)
from personaforge.paths import Paths


def write_config(paths: Paths, text: str) -> None:
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(text)


def test_defaults_follow_common_practice(paths):
    train = load_settings(paths, environ={}).settings.train
    assert (train.lora_rank, train.lora_alpha, train.learning_rate) == (16, 32, 2e-4)
    assert (train.epochs, train.batch_size, train.grad_accum, train.max_seq_length) == (
        3,
        4,
        4,
        2048,
    )
    assert train.target_modules == ALL_LINEAR_TARGETS
    assert [t.split("_")[0] for t in train.target_modules] == [
        "q",
        "k",
        "v",
        "o",
        "gate",
        "up",
        "down",
    ]


def test_precedence_defaults_file_env_set(paths):
    write_config(paths, "[train]\nlora_rank = 8\nepochs = 2\nbatch_size = 2\n")
    environ = {"PERSONAFORGE_TRAIN__EPOCHS": "5", "PERSONAFORGE_TRAIN__BATCH_SIZE": "6"}
    loaded = load_settings(paths, ["train.batch_size=7"], environ=environ)
    train = loaded.settings.train
    assert train.lora_alpha == 32  # default
    assert train.lora_rank == 8  # file beats default
    assert train.epochs == 5  # environment beats file
    assert train.batch_size == 7  # --set beats environment
    assert loaded.origin("train.lora_alpha") == "default"
    assert str(paths.config_file) in loaded.origin("train.lora_rank")
    assert loaded.origin("train.epochs") == "from environment PERSONAFORGE_TRAIN__EPOCHS"
    assert loaded.origin("train.batch_size") == "from --set train.batch_size=7"


def test_string_values_are_never_reinterpreted(paths):
    loaded = load_settings(
        paths, ["model.base=Qwen/Qwen2.5-0.5B", "model.revision=2026-01-01"], environ={}
    )
    assert loaded.settings.model.base == "Qwen/Qwen2.5-0.5B"
    assert loaded.settings.model.revision == "2026-01-01"


def test_list_from_comma_separated_text(paths):
    loaded = load_settings(
        paths, [], environ={"PERSONAFORGE_TRAIN__TARGET_MODULES": "q_proj, v_proj"}
    )
    assert loaded.settings.train.target_modules == ["q_proj", "v_proj"]


@pytest.mark.parametrize(
    ("overrides", "environ", "expected"),
    [
        (
            ["train.lora_rnk=3"],
            {},
            "unknown setting 'train.lora_rnk' (from --set train.lora_rnk=3); did you mean 'train.lora_rank'?",
        ),
        (["trian.lora_rank=3"], {}, "unknown setting section 'trian'"),
        (["lora_rank=3"], {}, "'lora_rank' (from --set lora_rank=3) is not a setting name"),
        (["train.lora_rank"], {}, "--set expects section.key=value"),
        (
            ["train.lora_rank=abc"],
            {},
            "train.lora_rank (from --set train.lora_rank=abc) expects an integer >= 1 and <= 1024, got 'abc'",
        ),
        (
            ["train.learning_rate=2"],
            {},
            "train.learning_rate (from --set train.learning_rate=2) expects a number > 0 and < 1, got 2",
        ),
        (["train.backend=cuda"], {}, "expects one of auto, hf, unsloth, got 'cuda'"),
        (["model.trust_remote_code=maybe"], {}, "expects true or false"),
        (
            [],
            {"PERSONAFORGE_TRAIN__EPOCHS": "0"},
            "train.epochs (from environment PERSONAFORGE_TRAIN__EPOCHS) expects an integer >= 1",
        ),
        (
            [],
            {"PERSONAFORGE_TRAIN__NOPE": "1"},
            "unknown setting 'train.nope' (from environment PERSONAFORGE_TRAIN__NOPE)",
        ),
    ],
)
def test_refusals_name_key_origin_and_expectation(paths, overrides, environ, expected):
    with pytest.raises(ConfigError) as caught:
        load_settings(paths, overrides, environ=environ)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_bad_file_is_refused_with_its_path(paths):
    write_config(paths, "[train]\nlora_rank = 'many'\n")
    with pytest.raises(
        ConfigError, match=r"train.lora_rank \(in .*config.toml\) expects an integer"
    ):
        load_settings(paths, environ={})
    write_config(paths, "[train\nlora_rank = 4\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(paths, environ={})
    write_config(paths, "lora_rank = 4\n")
    with pytest.raises(ConfigError, match="must be a \\[section\\] table"):
        load_settings(paths, environ={})


def test_non_setting_environment_variables_are_ignored(paths):
    loaded = load_settings(paths, environ={"PERSONAFORGE_HOME": "/elsewhere", "OTHER__X": "1"})
    assert loaded.settings == Settings()


def test_set_in_file_keeps_comments_and_validates(paths):
    write_config(paths, "# my notes on settings\n[train]\nepochs = 2  # short runs\n")
    assert set_in_file(paths, "train.lora_rank", "32") == 32
    text = paths.config_file.read_text()
    assert "# my notes on settings" in text and "# short runs" in text and "lora_rank = 32" in text
    with pytest.raises(ConfigError, match="expects an integer"):
        set_in_file(paths, "train.lora_rank", "lots")
    assert "lora_rank = 32" in paths.config_file.read_text()  # a refused value changes nothing
    assert load_settings(paths, environ={}).settings.train.lora_rank == 32
    assert unset_in_file(paths, "train.lora_rank") is True
    assert unset_in_file(paths, "train.lora_rank") is False
    assert load_settings(paths, environ={}).settings.train.lora_rank == 16


def test_render_toml_round_trips_and_shows_origins(paths, tmp_path):
    loaded = load_settings(paths, ["train.lora_rank=8", "model.base=tiny"], environ={})
    text = render_toml(loaded)
    assert "lora_rank = 8  # from --set train.lora_rank=8" in text
    # The rendered text is itself a valid config that reproduces the settings.
    other = Paths(tmp_path / "other")
    write_config(other, text)
    assert load_settings(other, environ={}).settings == loaded.settings


def test_reference_docs_are_current():
    docs = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert docs.read_text() == render_reference_markdown(), "run `make docs` to regenerate"


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=-5000, max_value=5000))
def test_lora_rank_bounds_hold_for_any_integer(tmp_path_factory, rank):
    paths = Paths(tmp_path_factory.mktemp("h"))
    if 1 <= rank <= 1024:
        assert (
            load_settings(paths, [f"train.lora_rank={rank}"], environ={}).settings.train.lora_rank
            == rank
        )
    else:
        with pytest.raises(ConfigError, match=r"train\.lora_rank"):
            load_settings(paths, [f"train.lora_rank={rank}"], environ={})
