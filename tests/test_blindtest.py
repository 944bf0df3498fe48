"""The blind test on a micro adapter's gate answers: pairs, picks kept in the home, the CLI and
the dashboard page (the one POST it answers, and only with the page's token)."""

from __future__ import annotations

import io
import json

import pytest

from personaforge.blindtest import blind_pairs, read_answers, record, summary, wilson
from tests.helpers import micro_home, micro_settings


@pytest.fixture(scope="module")
def evaluated_home(tmp_path_factory, micro_models_dir, sample_data):
    from personaforge.evaluate import evaluate_and_apply
    from personaforge.train.run import TrainRequest, train

    paths = micro_home(tmp_path_factory.mktemp("blind"), micro_models_dir, sample_data)
    settings = micro_settings(
        {"memorisation_prompts": 4, "max_eval_examples": 12, "voice_prompts": 12},
        max_steps=4,
        eval_steps=100,
        save_steps=100,
    )
    train(paths, settings, TrainRequest(fresh=True, show_progress=False))
    evaluate_and_apply(paths, settings, "v1", apply=True, force=True)
    return paths


@pytest.fixture
def home(evaluated_home, tmp_path):
    import shutil

    from personaforge.paths import Paths

    shutil.copytree(evaluated_home.home, tmp_path / "home", symlinks=True)
    return Paths(tmp_path / "home")


def test_pairs_hold_the_real_reply_and_the_gate_answers_in_either_order(home):
    evaluation = json.loads((home.adapters / "v1" / "evaluation.json").read_text())
    persona = evaluation["metrics"]["candidate"]["answers"]
    base = evaluation["metrics"]["base"]["answers"]
    dataset = next(p for p in home.datasets.iterdir() if p.is_dir())
    rows = [json.loads(line) for line in (dataset / "eval.jsonl").read_text().splitlines()]
    pairs = blind_pairs(home, "v1")
    assert len(persona) == 12 and pairs and {p.kind for p in pairs} <= {"real", "base"}
    for pair in pairs:
        index = int(pair.id.rsplit(":", 1)[1])
        right, other = (pair.a, pair.b) if pair.right == "a" else (pair.b, pair.a)
        assert pair.prompt == rows[index]["messages"][-2]["content"]
        if pair.kind == "real":
            assert (right, other) == (rows[index]["messages"][-1]["content"], persona[index])
        else:
            assert (right, other) == (persona[index], base[index])
    assert {p.right for p in pairs} == {"a", "b"}  # the right answer is not always first
    assert blind_pairs(home, "v1") == pairs  # fixed per pair: a reload shows the same


def test_picks_are_kept_and_scored_with_their_interval(home):
    assert wilson(3, 4) == (0.3006, 0.9544) and wilson(0, 0) == (0.0, 1.0)
    real = [p for p in blind_pairs(home, "v1") if p.kind == "real"][:4]
    for pair in real[:3]:
        record(home, pair, pair.right)
    record(home, real[3], "b" if real[3].right == "a" else "a")
    record(home, real[0], real[0].right)  # answering again replaces, never doubles
    assert len(read_answers(home)) == 4
    by_kind = {item.kind: item for item in summary(home, "v1")}
    assert (by_kind["real"].n, by_kind["real"].right, by_kind["real"].accuracy) == (4, 3, 0.75)
    assert by_kind["real"].interval == (0.3006, 0.9544) and by_kind["base"].n == 0
    assert "3/4 right, accuracy 75% (95% interval 30%-95%)" in by_kind["real"].line()


def test_the_command_asks_keeps_and_reports(home, capsys, monkeypatch):
    from tests.test_cli import run_cli

    monkeypatch.setenv("PERSONAFORGE_HOME", str(home.home))
    monkeypatch.setattr("sys.stdin", io.StringIO("a\nx\nb\ns\nq\n"))
    code, out, _ = run_cli(capsys, "blindtest", "--kind", "real")
    assert code == 0 and out.count("Which one is you?") == 5  # "x" is asked again
    picks = read_answers(home)
    assert [p["picked"] for p in picks] == ["a", "b"] and {p["kind"] for p in picks} == {"real"}
    assert "real: " in out and "/2 right" in out and "base: no picks yet" in out
    code, out, _ = run_cli(capsys, "blindtest", "--results")
    assert code == 0 and "Which one" not in out and "/2 right" in out
    code, _, err = run_cli(capsys, "blindtest", "v9")
    assert code != 0 and "v9 has not been evaluated" in err


def test_the_dashboard_page_takes_a_pick_only_with_its_token(home):
    from fastapi.testclient import TestClient

    from personaforge.dashboard.app import create_app

    client = TestClient(create_app(home), base_url="http://127.0.0.1")
    page = client.get("/blindtest")
    assert page.status_code == 200 and "A is me" in page.text
    token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    pair = page.text.split('name="pair" value="', 1)[1].split('"', 1)[0]
    form = {"version": "v1", "pair": pair, "picked": "a"}
    assert client.post("/blindtest", data=form).status_code == 403  # no token
    assert client.post("/blindtest", data={**form, "token": "guess"}).status_code == 403
    foreign = client.post(
        "/blindtest", data={**form, "token": token}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403 and read_answers(home) == []
    assert client.post("/versions", data={**form, "token": token}).status_code == 405
    kept = client.post("/blindtest", data={**form, "token": token}, follow_redirects=False)
    assert kept.status_code == 303 and [a["pair"] for a in read_answers(home)] == [pair]
    after = client.get("/blindtest")
    assert f'value="{pair}"' not in after.text and "1 of" in after.text
