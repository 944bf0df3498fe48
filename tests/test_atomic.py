"""Crash-safe writes."""

from __future__ import annotations

import os
import stat

import pytest

from personaforge.atomic import atomic_directory, atomic_write_text


def test_atomic_write_replaces_and_sets_mode(tmp_path):
    target = tmp_path / "sub" / "token"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two", mode=0o600)
    assert target.read_text() == "two"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["token"]  # no temp files left


def test_atomic_directory_replaces_only_on_success(tmp_path):
    target = tmp_path / "artifact"
    with atomic_directory(target) as staging:
        (staging / "weights").write_text("v1")
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "weights").write_text("half of v2")
        raise RuntimeError("crash mid-write")
    assert (target / "weights").read_text() == "v1"
    with atomic_directory(target) as staging:
        (staging / "weights").write_text("v2")
    assert (target / "weights").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact"]


def test_replacing_a_folder_never_leaves_it_missing(tmp_path, monkeypatch):
    """The folder is swapped in one step: a kill at any moment finds the old or the new one."""
    import os

    from personaforge import atomic
    from personaforge.atomic import atomic_directory

    target = tmp_path / "ds"
    target.mkdir()
    (target / "train.jsonl").write_text("old\n")
    seen = []
    real_replace = os.replace

    def watching_replace(src, dst):  # the two-rename path would leave a moment without `ds`
        seen.append((src, dst))
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", watching_replace)
    with atomic_directory(target) as staging:
        (staging / "train.jsonl").write_text("new\n")
    assert (target / "train.jsonl").read_text() == "new\n"
    assert seen == [] and sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_a_removed_folder_is_whole_or_gone(tmp_path, monkeypatch):
    """remove_tree renames first: a kill during the deletion never leaves half a folder visible."""
    import shutil

    from personaforge import atomic

    export = tmp_path / "v2-adapter"
    export.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors", "personaforge.json"):
        (export / name).write_text(name)

    def killed_halfway(path, ignore_errors=False):  # the process dies inside rmtree
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", killed_halfway)
    with pytest.raises(KeyboardInterrupt):
        atomic.remove_tree(export)
    assert not export.exists()  # gone under its name; only a hidden .removing folder is left
    assert [p.name.startswith(".v2-adapter.removing-") for p in tmp_path.iterdir()] == [True]
