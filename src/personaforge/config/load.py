"""Settings from their layers: defaults, the TOML file, the environment, --set; editing the file.

Every layer is checked against the schema (config/schema.py) key by key as it is
read, so a refusal names the key, where it came from and what it expects.
"""

from __future__ import annotations

import difflib
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomlkit
from pydantic import ValidationError

from personaforge.atomic import atomic_write_text
from personaforge.config.schema import SECTIONS, Settings, describe_expected, unwrap_optional
from personaforge.errors import UserError
from personaforge.paths import Paths

ENV_PREFIX = "PERSONAFORGE_"
ENV_SEPARATOR = "__"


class ConfigError(UserError):
    """A settings problem: unknown key, wrong type, unreadable config file."""


@dataclass
class LoadedSettings:
    """Validated settings plus where each non-default value came from."""

    settings: Settings
    origins: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None

    def origin(self, dotted_key: str) -> str:
        return self.origins.get(dotted_key, "default")


# ---------------------------------------------------------------------------
# Parsing values


def parse_value(section: str, key: str, raw: str) -> Any:
    """Turn a string from the environment or --set into the field's Python type.

    Strings stay strings (so a model id like 'org/name-7B' is never mangled);
    numbers and booleans are read as TOML literals; lists accept 'a,b,c'.
    Anything that does not parse is passed through for the schema to refuse.
    """
    info = SECTIONS[section].model_fields[key]
    annotation, optional = unwrap_optional(info.annotation)
    text = raw.strip()
    if optional and text.lower() in ("", "none", "null"):
        return None
    if annotation is str or typing.get_origin(annotation) is Literal:
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            return text[1:-1]
        return text
    if typing.get_origin(annotation) is list:
        return text
    try:
        return tomlkit.parse(f"v = {text}")["v"].unwrap()
    except Exception:
        return text


# ---------------------------------------------------------------------------
# Layers


def _suggest(name: str, candidates: Iterable[str], prefix: str = "") -> str:
    """'; did you mean X?' naming the nearest valid name, however far it is."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.0)
    return f"; did you mean '{prefix}{close[0]}'?" if close else ""


def _check_key(section: str, key: str, where: str) -> None:
    if section not in SECTIONS:
        raise ConfigError(
            f"unknown setting section '{section}' ({where}); sections: "
            + ", ".join(SECTIONS)
            + _suggest(section, SECTIONS)
        )
    fields = SECTIONS[section].model_fields
    if key not in fields:
        raise ConfigError(
            f"unknown setting '{section}.{key}' ({where})"
            + (
                _suggest(key, fields, f"{section}.")
                or f"; keys in [{section}]: " + ", ".join(fields)
            )
        )


def split_dotted(dotted: str, where: str) -> tuple[str, str]:
    parts = dotted.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(
            f"'{dotted}' ({where}) is not a setting name; use section.key, e.g. train.lora_rank"
        )
    return parts[0], parts[1]


def read_config_file(path: Path) -> tomlkit.TOMLDocument:
    """Parse the TOML file, or an empty document if it does not exist."""
    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _file_layer(path: Path) -> dict[str, dict[str, Any]]:
    where = f"in {path}"
    layer: dict[str, dict[str, Any]] = {}
    for section, table in read_config_file(path).unwrap().items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"'{section}' {where} must be a [section] table; put keys under one, e.g. [train]"
            )
        for key, value in table.items():
            _check_key(section, key, where)
            layer.setdefault(section, {})[key] = value
    return layer


def _env_layer(environ: Mapping[str, str]) -> dict[str, dict[str, tuple[Any, str]]]:
    layer: dict[str, dict[str, tuple[Any, str]]] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name[len(ENV_PREFIX) :]:
            continue  # PERSONAFORGE_HOME and friends are not settings
        section, _, key = name[len(ENV_PREFIX) :].lower().partition(ENV_SEPARATOR)
        where = f"from environment {name}"
        _check_key(section, key, where)
        layer.setdefault(section, {})[key] = (parse_value(section, key, raw), where)
    return layer


def env_var_name(section: str, key: str) -> str:
    """The environment variable that sets section.key (what _env_layer reads)."""
    return f"{ENV_PREFIX}{section.upper()}{ENV_SEPARATOR}{key.upper()}"


def parse_override(assignment: str) -> tuple[str, str, Any]:
    """'train.lora_rank=8' -> ('train', 'lora_rank', 8), checked against the schema."""
    where = f"from --set {assignment}"
    if "=" not in assignment:
        raise ConfigError(f"--set expects section.key=value, got '{assignment}'")
    dotted, _, raw = assignment.partition("=")
    section, key = split_dotted(dotted, where)
    _check_key(section, key, where)
    return section, key, parse_value(section, key, raw)


def _validate(merged: dict[str, dict[str, Any]], origins: dict[str, str]) -> Settings:
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        error = exc.errors()[0]
        section, key = str(error["loc"][0]), str(error["loc"][1])
        dotted = f"{section}.{key}"
        got = merged.get(section, {}).get(key)
        if error["type"] == "value_error":  # a field's own check says what it accepts
            reason = str(error["msg"]).removeprefix("Value error, ")
            raise ConfigError(f"{dotted} ({origins.get(dotted, 'default')}): {reason}") from None
        raise ConfigError(
            f"{dotted} ({origins.get(dotted, 'default')}) expects "
            f"{describe_expected(section, key)}, got {got!r}"
        ) from None


def load_settings(
    paths: Paths,
    overrides: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Build Settings from all layers; raise ConfigError naming the first bad key."""
    environ = os.environ if environ is None else environ
    merged: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}

    def put(section: str, key: str, value: Any, where: str) -> None:
        merged.setdefault(section, {})[key] = value
        origins[f"{section}.{key}"] = where

    for section, table in _file_layer(paths.config_file).items():
        for key, value in table.items():
            put(section, key, value, f"in {paths.config_file}")
    for section, table in _env_layer(environ).items():
        for key, (value, where) in table.items():
            put(section, key, value, where)
    for assignment in overrides:
        section, key, value = parse_override(assignment)
        put(section, key, value, f"from --set {assignment}")

    settings = _validate(merged, origins)
    return LoadedSettings(settings=settings, origins=origins, config_file=paths.config_file)


# ---------------------------------------------------------------------------
# Editing the file


def set_in_file(paths: Paths, dotted: str, raw_value: str) -> Any:
    """Write section.key = value into config.toml (comments kept), after validating it."""
    where = f"for {paths.config_file}"
    section, key = split_dotted(dotted, where)
    _check_key(section, key, where)
    value = parse_value(section, key, raw_value)
    document = read_config_file(paths.config_file)
    candidate = document.unwrap()
    candidate.setdefault(section, {})[key] = value
    checked = _validate(candidate, {f"{section}.{key}": f"config set {dotted}"})
    typed_value = getattr(getattr(checked, section), key)
    if section not in document:
        document.add(section, tomlkit.table())
    if typed_value is None:
        document[section].pop(key, None)  # TOML has no null: absent means default
    else:
        document[section][key] = typed_value
    atomic_write_text(paths.config_file, tomlkit.dumps(document))
    return typed_value


def unset_in_file(paths: Paths, dotted: str) -> bool:
    """Remove section.key from config.toml; True if it was there."""
    section, key = split_dotted(dotted, f"for {paths.config_file}")
    _check_key(section, key, f"for {paths.config_file}")
    document = read_config_file(paths.config_file)
    if section not in document or key not in document[section]:
        return False
    del document[section][key]
    if not document[section]:
        del document[section]
    atomic_write_text(paths.config_file, tomlkit.dumps(document))
    return True
