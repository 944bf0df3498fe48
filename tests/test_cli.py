"""The CLI surface: every command's --help, global options anywhere, one-line errors."""

from __future__ import annotations

import json

import pytest
import typer

from personaforge.cli import app, hoist_global_options
from tests.helpers import run_cli


def all_command_paths():
    """Every command and group as (argument list, is_group): ([], True), (['config', 'show'], False)..."""
    found = []

    def walk(command, prefix):
        children = getattr(command, "commands", None)
        found.append((prefix, bool(children)))
        for name, child in (children or {}).items():
            walk(child, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = all_command_paths()


def test_the_command_tree_has_what_the_docs_promise():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {
        "config show",
        "config path",
        "config set",
        "config unset",
        "doctor",
        "base build-tiny",
        "base info",
        "demo",
    } <= names


@pytest.mark.parametrize(
    ("path", "is_group"), COMMANDS, ids=[" ".join(p) or "personaforge" for p, _ in COMMANDS]
)
def test_every_command_has_help_with_examples(capsys, path, is_group):
    code, out, _ = run_cli(capsys, *path, "--help")
    assert code == 0 and "Usage:" in out
    if not is_group or not path:  # subgroups list their commands; everything else shows examples
        assert "Examples" in out and "$ " in out


GROUPS = [path for path, is_group in COMMANDS if is_group and path]


@pytest.mark.parametrize("path", GROUPS, ids=[" ".join(p) for p in GROUPS])
def test_a_bare_group_lists_its_commands_and_asks_for_one(capsys, path):
    """`personaforge profile` alone does nothing on its own, like every command group: it shows
    its subcommands and exits 2 (docs/profile.md says so)."""
    group = typer.main.get_command(app)
    for name in path:
        group = group.commands[name]
    code, out, err = run_cli(capsys, *path)
    assert code == 2 and "Usage:" in out + err
    listed = out + err
    assert group.commands and all(name in listed for name in group.commands)


def test_hoist_moves_set_to_the_front():
    assert hoist_global_options(["doctor", "--set", "a.b=1", "--json", "--set=c.d=2"]) == [
        "--set",
        "a.b=1",
        "--set=c.d=2",
        "doctor",
        "--json",
    ]
    assert hoist_global_options(["config", "set", "train.x", "1"]) == [
        "config",
        "set",
        "train.x",
        "1",
    ]


def test_set_works_before_and_after_the_subcommand(capsys):
    for args in (
        ["--set", "train.lora_rank=8", "config", "show", "--json"],
        ["config", "show", "--json", "--set", "train.lora_rank=8"],
    ):
        code, out, _ = run_cli(capsys, *args)
        assert code == 0
        shown = json.loads(out)
        assert shown["settings"]["train"]["lora_rank"] == 8
        assert shown["origins"]["train.lora_rank"] == "from --set train.lora_rank=8"


def test_user_errors_are_one_line_without_traceback(capsys):
    code, _out, err = run_cli(capsys, "config", "show", "--set", "train.lora_rank=abc")
    assert code == 2
    assert err.strip().startswith(
        "error: train.lora_rank (from --set train.lora_rank=abc) expects an integer"
    )
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_usage_errors_exit_2(capsys):
    code, _, err = run_cli(capsys, "doctor", "--no-such-flag")
    assert code == 2 and "No such option" in err


def test_config_set_show_unset_and_path(capsys, paths):
    code, _, err = run_cli(capsys, "config", "set", "train.lora_rank", "32")
    assert code == 0 and err.startswith("set train.lora_rank = 32 in ")
    code, out, _ = run_cli(capsys, "config", "show")
    assert code == 0 and f"lora_rank = 32  # in {paths.config_file}" in out
    code, out, _ = run_cli(capsys, "config", "path")
    assert code == 0 and out.strip() == str(paths.config_file)
    code, _, err = run_cli(capsys, "config", "unset", "train.lora_rank")
    assert code == 0 and err.startswith("removed train.lora_rank")
    assert "lora_rank" not in paths.config_file.read_text()
    # The default applies again, and nobody claims the file set it.
    code, out, _ = run_cli(capsys, "config", "show", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["settings"]["train"]["lora_rank"] == 16
    assert "train.lora_rank" not in shown["origins"]
    # Unsetting what is not set says so; an unknown name is refused, not silently ignored.
    code, _, err = run_cli(capsys, "config", "unset", "train.lora_rank")
    assert code == 0 and err.startswith("was not set: train.lora_rank")
    code, _, err = run_cli(capsys, "config", "unset", "train.lora_rnk")
    assert code == 2 and "unknown setting 'train.lora_rnk'" in err
    assert len(err.strip().splitlines()) == 1


def test_home_option_overrides_the_environment(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "--home", str(tmp_path / "elsewhere"), "config", "path")
    assert code == 0 and out.strip() == str(tmp_path / "elsewhere" / "config.toml")


def test_demo_data_only_writes_the_sample_person(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "demo", "--data-only", str(tmp_path / "person"))
    assert code == 0
    assert "Maren Holt" in out and "vault" in out
    assert (tmp_path / "person" / "sample-manifest.json").exists()


def test_base_build_tiny_and_info(capsys, home_with_micro):
    code, out, _ = run_cli(capsys, "base", "build-tiny", "--preset", "micro")
    assert code == 0 and "held-out perplexity" in out and "parameters" in out
    code, out, _ = run_cli(capsys, "base", "info", "tiny:micro")
    assert code == 0 and "safetensors headers" in out


def test_ingest_then_browse_the_store(capsys, sample_data, monkeypatch):
    monkeypatch.setenv("PERSONAFORGE_IDENTITY__NAMES", "Maren Holt")  # her WhatsApp chats
    code, out, _ = run_cli(capsys, "ingest", str(sample_data))
    assert code == 0 and "added" in out and "not UTF-8" in out
    code, out, _ = run_cli(capsys, "ingest", str(sample_data), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["files"]["unchanged"] > 200 and summary["memories"]["added"] == 0
    code, out, _ = run_cli(capsys, "memories", "stats", "--json")
    stats = json.loads(out)
    assert (
        code == 0
        and stats["memories"] == summary["memories_in_store"]
        and "vault" in stats["by_source"]
    )
    # Counts per messaging source, her messages and others' apart.
    assert {k: stats["by_source"][k] for k in ("whatsapp", "telegram", "mail")} == {
        "whatsapp": 30,
        "telegram": 13,
        "mail": 8,
    }
    assert stats["by_speaker"]["other"] == 27
    code, out, _ = run_cli(capsys, "memories", "stats")
    assert code == 0 and "2026-10" in out and "reflection" in out
    code, out, _ = run_cli(capsys, "memories", "list", "--source", "chatgpt", "--limit", "3")
    assert code == 0 and len(out.strip().splitlines()) == 3 and "chatgpt" in out
    code, out, _ = run_cli(capsys, "memories", "search", "sourdough")
    assert code == 0 and "ourdough" in out
    memory_id = out.split()[0]
    code, out, _ = run_cli(capsys, "memories", "show", memory_id)
    assert code == 0 and "locator" in out and "Sourdough" in out
    code, _, err = run_cli(capsys, "memories", "search", "zzzqqqxx")
    assert code == 1 and "no memory matches" in err


def test_ingest_user_errors(capsys, tmp_path):
    code, _, err = run_cli(capsys, "memories", "stats")
    assert code == 2 and "run `personaforge ingest PATH` first" in err
    code, _, err = run_cli(capsys, "ingest", str(tmp_path / "missing"))
    assert code == 2 and err.strip() == f"error: no such file or folder: {tmp_path / 'missing'}"
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "latin.md").write_bytes(b"caf\xe9")
    code, out, err = run_cli(capsys, "ingest", str(tmp_path / "bad"))
    assert code == 1 and "nothing could be read" in err and "not UTF-8" in out
    code, _, err = run_cli(capsys, "ingest", str(tmp_path / "bad"), "--source", "notes")
    assert code == 2 and "unknown source 'notes'" in err


def test_dataset_build_show_list(capsys, sample_data, monkeypatch):
    monkeypatch.setenv("PERSONAFORGE_IDENTITY__NAMES", "Maren Holt")
    assert run_cli(capsys, "ingest", str(sample_data))[0] == 0
    code, out, err = run_cli(capsys, "dataset", "build", "--kind", "voice,preference")
    assert code == 0 and "privacy" in out and "quality" in out and "token lengths estimated" in err
    dataset_id = out.split()[0]
    code, out, _ = run_cli(capsys, "dataset", "show", "--json")
    manifest = json.loads(out)
    assert (
        code == 0
        and manifest["id"] == dataset_id
        and set(manifest["metrics"]["by_kind"]) == {"voice", "preference"}
    )
    code, out, _ = run_cli(capsys, "dataset", "list")
    assert code == 0 and dataset_id in out and "(latest)" in out
    code, _, err = run_cli(capsys, "dataset", "build", "--kind", "poems")
    assert code == 2 and "unknown example kind 'poems'" in err
    code, _, err = run_cli(capsys, "dataset", "show", "ds-nope")
    assert code == 2 and "no dataset 'ds-nope'" in err


def test_reload_talks_to_the_server_through_the_admin_client(capsys, paths):
    """`reload` sends the home's admin token and prints the answer; an error is the server's
    message in one line; no server at all is one line too (serve/client.admin_post)."""
    import http.server
    import threading

    from personaforge.serve.guard import admin_token

    seen = []

    class Stand(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, self.headers["Authorization"], body))
            known = body.get("version") == "v2"
            answer = (
                {"persona": "v2", "loaded": ["v1", "v2"]}
                if known
                else {"error": {"message": f"unknown version '{body.get('version')}'"}}
            )
            data = json.dumps(answer).encode()
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Stand)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        code, _, err = run_cli(capsys, "reload", "v2", "--url", url)
        assert code == 0 and err.strip() == "persona is now v2 (loaded: v1, v2)"
        assert seen == [("/admin/reload-model", f"Bearer {admin_token(paths)}", {"version": "v2"})]
        code, _, err = run_cli(capsys, "reload", "v9", "--url", url)
        assert code == 2 and err.strip() == (
            f"error: {url}/admin/reload-model: unknown version 'v9'"
        )
    finally:
        server.shutdown()
        server.server_close()
    code, _, err = run_cli(capsys, "reload", "v2", "--url", url)  # nothing listens there now
    assert code == 2 and err.strip().startswith(f"error: no server at {url} (")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
