"""dataset.code: code blocks and command output in replies, measured and kept or cut."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personaforge.dataset.code import Block, apply_code_policy, code_blocks, split_code
from personaforge.dataset.curate import estimated_token_counter
from personaforge.dataset.examples import Example
from personaforge.store import Memory

NOTE = """I keep forgetting how to squash the last commits, so here it is.

```bash
git reset --soft HEAD~3
git commit
```

That keeps the changes staged. Then check what happened:

$ git log --oneline -2
a1b2c3d squashed
e4f5a6b before

Steps I follow:

- stage everything
    - including the new files
- commit

    (four spaces after a list item continue the item, as CommonMark reads it)

And a loop:

    for f in *.md; do echo $f; done

The loop above prints every note."""


def test_fences_sessions_and_indented_blocks_are_code_and_list_items_are_not():
    lines = NOTE.split("\n")
    blocks = code_blocks(NOTE)
    assert [("\n".join(lines[b.first : b.last + 1])) for b in blocks] == [
        "```bash\ngit reset --soft HEAD~3\ngit commit\n```",
        "$ git log --oneline -2\na1b2c3d squashed\ne4f5a6b before",
        "    for f in *.md; do echo $f; done",
    ]


def test_an_unclosed_fence_runs_to_the_end_and_a_longer_fence_needs_a_longer_close():
    assert code_blocks("prose\n\n```\ncode\nmore") == [Block(2, 4)]
    text = "````md\n```\ninner\n```\n````\nafter"
    assert code_blocks(text) == [Block(0, 4)]


def test_split_code_keeps_the_prose_in_order():
    prose, code = split_code(NOTE)
    assert prose == (
        "I keep forgetting how to squash the last commits, so here it is.\n\n"
        "That keeps the changes staged. Then check what happened:\n\n"
        "Steps I follow:\n\n- stage everything\n    - including the new files\n- commit\n\n"
        "    (four spaces after a list item continue the item, as CommonMark reads it)\n\n"
        "And a loop:\n\nThe loop above prints every note."
    )
    assert code.startswith("```bash") and code.endswith("    for f in *.md; do echo $f; done")
    assert split_code("only prose, with `inline code` in it") == (
        "only prose, with `inline code` in it",
        "",
    )


@settings(max_examples=60, deadline=None)
@given(
    paragraphs=st.lists(
        st.text(alphabet=st.characters(whitelist_categories=["Ll"]), min_size=1, max_size=30),
        min_size=1,
        max_size=5,
    ),
    code=st.lists(
        st.text(alphabet=st.characters(whitelist_categories=["Ll", "Nd"]), min_size=1, max_size=20),
        min_size=1,
        max_size=4,
    ),
)
def test_fenced_code_between_paragraphs_comes_out_whole(paragraphs, code):
    fence = "```\n" + "\n".join(code) + "\n```"
    text = "\n\n".join([paragraphs[0], fence, *paragraphs[1:]])
    prose, cut = split_code(text)
    assert cut == fence and prose == "\n\n".join(paragraphs)


def _memory(text: str) -> Memory:
    return Memory(
        id="m1",
        source="vault",
        locator="git/squash.md",
        file_path="git/squash.md",
        created_at="2026-01-02T00:00:00",
        title="squash",
        text=text,
        tags=[],
        mode="reflection",
        speaker="self",
        meta={"note": "squash"},
        content_hash="h",
        added_at="2026-01-02T00:00:00",
        updated_at="2026-01-02T00:00:00",
        deleted_at=None,
    )


def _chat(user: str, assistant: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def _examples() -> list[Example]:
    memory = _memory(NOTE)
    return [
        Example("voice", _chat("Tell me about squash.", NOTE), [memory]),
        Example("voice", _chat("And?", "```\nonly code\n```"), [memory]),
        Example("reflection", _chat("Why?", "Plain prose, no code at all here."), [memory]),
        Example("preference", [], [memory], chosen="```\nkept\n```", rejected="no"),
    ]


def test_keep_measures_the_share_and_changes_nothing():
    examples = _examples()
    out, report = apply_code_policy(examples, "keep", _chat, estimated_token_counter)
    assert out == examples and out[0].target == NOTE
    assert (report.replies, report.replies_with_code) == (3, 2)  # preference pairs are not replies
    _, code = split_code(NOTE)
    expected_code = len(code) // 4 + len("```\nonly code\n```") // 4
    expected_all = sum(len(t) // 4 for t in (NOTE, "```\nonly code\n```", examples[2].target))
    assert (report.code_tokens, report.target_tokens) == (expected_code, expected_all)
    assert 0 < report.share < 1


def test_prose_only_cuts_code_and_drops_replies_left_empty():
    out, report = apply_code_policy(_examples(), "prose_only", _chat, estimated_token_counter)
    kinds = [e.kind for e in out]
    assert kinds == ["preference", "voice", "reflection"]
    assert out[1].target == split_code(NOTE)[0] and "```" not in out[1].target
    assert out[0].chosen == "```\nkept\n```"  # corrections are the person's choice, whole
    assert report.emptied == 1 and report.code_examples == 0


def test_separate_trains_the_code_as_examples_of_its_own():
    out, report = apply_code_policy(_examples(), "separate", _chat, estimated_token_counter)
    code = [e for e in out if e.kind == "code"]
    assert len(code) == 2 == report.code_examples
    assert code[0].target == split_code(NOTE)[1] and code[0].extra == {"from": "voice"}
    assert "squash" in code[0].messages[0]["content"]  # the prompt names the note
    assert all("```" not in e.target for e in out if e.kind == "voice")


def test_an_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="keep, prose_only, separate"):
        apply_code_policy(_examples(), "code_only", _chat, estimated_token_counter)


def _vault_home(tmp_path, code: str):
    from personaforge.config import IngestSettings, Settings
    from personaforge.dataset import DatasetRequest, MixPlan, build_dataset
    from personaforge.ingest import ingest
    from personaforge.paths import Paths
    from personaforge.store import MemoryStore

    vault = tmp_path / "vault"
    (vault / "git").mkdir(parents=True, exist_ok=True)
    (vault / "git" / "squash.md").write_text("# Squashing commits\n\n" + NOTE + "\n")
    (vault / "garden.md").write_text(
        "# Garden\n\nI think the tomatoes did better in the shade this year, which surprised me. "
        "Next spring I will try the east bed first and keep notes every week.\n"
    )
    paths = Paths(tmp_path / f"home-{code}")
    settings = Settings(dataset={"code": code, "eval_fraction": 0.0})
    with MemoryStore.open(paths.memory_store) as store:
        ingest([vault], store, IngestSettings(), show_progress=False)
        result = build_dataset(store, settings, paths, DatasetRequest(MixPlan("foundation")))
    return paths, result


def test_the_manifest_and_dataset_show_report_the_code_share(tmp_path, capsys, monkeypatch):
    from personaforge.cli import main

    paths, kept = _vault_home(tmp_path, "keep")
    report = kept.manifest["code"]
    assert report["policy"] == "keep" and report["replies_with_code"] >= 1
    assert 0 < report["share_of_target_tokens"] < 1
    train = (kept.folder / "train.jsonl").read_text()
    assert "git reset --soft HEAD~3" in train
    monkeypatch.setenv("PERSONAFORGE_HOME", str(paths.home))
    try:
        main(["dataset", "show"])
    except SystemExit as exit_:
        assert not exit_.code
    out = capsys.readouterr().out
    assert f"code and command output: {report['share_of_target_tokens']:.0%} of reply tokens" in out
    assert "dataset.code = keep" in out
    _, prose = _vault_home(tmp_path, "prose_only")
    trained = (prose.folder / "train.jsonl").read_text()
    assert "git reset --soft HEAD~3" not in trained and "That keeps the changes staged" in trained
    assert prose.manifest["code"]["share_of_target_tokens"] == report["share_of_target_tokens"]
