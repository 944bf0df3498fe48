"""Shared fixtures: an isolated PERSONAFORGE_HOME per test and one micro base per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from personaforge.paths import CACHE_ENV, HOME_ENV, Paths


def pytest_collection_modifyitems(config, items):
    """Skip tests marked gpu when torch sees no CUDA device."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's settings, shared cache or touches the network."""
    for name in list(os.environ):
        if name.startswith("PERSONAFORGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    # The machine's shared cache (bases, probes, rehearsal answers) is per test too: a test
    # never reuses the developer's builds or measurements, nor another test's.
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


@pytest.fixture
def paths(tmp_path) -> Paths:
    return Paths(tmp_path / "home")


@pytest.fixture(scope="session")
def micro_models_dir(tmp_path_factory) -> Path:
    """A models/ folder holding the micro tiny base, built once for the whole session."""
    from personaforge.bases.tiny import ensure_tiny_base

    models = tmp_path_factory.mktemp("session-models")
    ensure_tiny_base(models, "micro")
    return models


@pytest.fixture(scope="session")
def micro_base(micro_models_dir) -> Path:
    from personaforge.bases.tiny import tiny_folder

    return tiny_folder(micro_models_dir, "micro")


@pytest.fixture
def home_with_micro(paths, micro_models_dir) -> Paths:
    """A home whose models/ already holds the session's micro base (via a symlink)."""
    paths.home.mkdir(parents=True, exist_ok=True)
    paths.models.symlink_to(micro_models_dir, target_is_directory=True)
    return paths


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    """The sample person's data, written once per session. Copy it before changing it."""
    from personaforge.sample import write_sample_data

    root = tmp_path_factory.mktemp("sample") / "data"
    write_sample_data(root)
    return root
