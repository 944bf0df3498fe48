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
