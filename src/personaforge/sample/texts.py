"""The sample person's texts: JSON files under personaforge/data/sample/.

The storyline (story/), the chats (chats.json) and what each later month adds
(months/) are prose, so they live as data beside the code that composes them.
The modules here read them once, at import, and turn JSON's lists back into the
tuples their code expects.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def _folder(*parts: str):  # a Traversable (importlib.resources)
    folder = resources.files("personaforge.data").joinpath("sample")
    for part in parts:
        folder = folder.joinpath(part)
    return folder


def load(*parts: str) -> Any:
    """The JSON file at data/sample/<parts...>, e.g. load("story", "homes.json")."""
    return json.loads(_folder(*parts).read_text(encoding="utf-8"))


def by_month(folder: str) -> dict[str, Any]:
    """Every data/sample/<folder>/YYYY-MM.json, keyed by month, in calendar order."""
    names = sorted(
        entry.name
        for entry in _folder(folder).iterdir()
        if entry.name.endswith(".json") and entry.name[:4].isdigit()
    )
    return {name.removesuffix(".json"): load(folder, name) for name in names}
