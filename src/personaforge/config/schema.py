"""The settings schema: one section class per pipeline stage, one documented field per knob.

The field descriptions are the documentation: `config show` prints them beside each
value and `make docs` renders them into docs/configuration.md. Loading the layers
lives in config/load.py, rendering in config/render.py. The section classes live
by subject (config/training.py: model, train, gate; config/data.py: ingest, identity,
dataset, privacy; config/serving.py: decode, run, serve; config/fields.py: what they
share) and are imported from here.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field

from personaforge.config.data import (
    REFLECTION_PHRASES,
    REFLECTION_TAGS,
    DatasetSettings,
    IdentitySettings,
    IngestSettings,
    PrivacyAction,
    PrivacySettings,
)
from personaforge.config.fields import NO_BUDGET, _Section, parse_budget, split_comma_list
from personaforge.config.serving import DecodeSettings, RunSettings, ServeSettings
from personaforge.config.training import (
    ALL_LINEAR_TARGETS,
    GateSettings,
    ModelSettings,
    TrainSettings,
)

__all__ = [
    "ALL_LINEAR_TARGETS",
    "NO_BUDGET",
    "REFLECTION_PHRASES",
    "REFLECTION_TAGS",
    "SECTIONS",
    "DatasetSettings",
    "DecodeSettings",
    "GateSettings",
    "IdentitySettings",
    "IngestSettings",
    "ModelSettings",
    "PrivacyAction",
    "PrivacySettings",
    "RunSettings",
    "ServeSettings",
    "Settings",
    "TrainSettings",
    "describe_expected",
    "parse_budget",
    "split_comma_list",
    "unwrap_optional",
]


class Settings(BaseModel):
    """All settings. Sections mirror the pipeline stages."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSettings = Field(default_factory=ModelSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    dataset: DatasetSettings = Field(default_factory=DatasetSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    decode: DecodeSettings = Field(default_factory=DecodeSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation
    for name, info in Settings.model_fields.items()  # type: ignore[misc]
}


# ---------------------------------------------------------------------------
# Describing field types


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """`X | None` -> (X, True); any other annotation -> (it, False)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def describe_expected(section: str, key: str) -> str:
    """What a field accepts, in words: 'an integer >= 1', 'one of auto, hf, unsloth'."""
    info = SECTIONS[section].model_fields[key]
    annotation, optional = unwrap_optional(info.annotation)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        text = "one of " + ", ".join(str(a) for a in typing.get_args(annotation))
    elif annotation is bool:
        text = "true or false"
    elif annotation is int:
        text = "an integer"
    elif annotation is float:
        text = "a number"
    elif origin is list:
        text = "a list of names (comma-separated)"
    else:
        text = "a string"
    bounds = []
    for meta in info.metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(meta, attr, None)
            if value is not None and isinstance(meta, annotated_types.BaseMetadata):
                bounds.append(f"{symbol} {value}")
    if bounds:
        text += " " + " and ".join(bounds)
    if optional:
        text += " (or empty for none)"
    return text
