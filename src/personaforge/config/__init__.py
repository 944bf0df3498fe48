"""Typed settings, one documented field per knob, grouped by stage.

Layers, later wins:

    defaults  <  $PERSONAFORGE_HOME/config.toml  <  environment  <  --set section.key=value

Environment variables are named PERSONAFORGE_<SECTION>__<KEY>, for example
PERSONAFORGE_TRAIN__LORA_RANK=8. Every layer is checked against the schema
before anything runs: an unknown key or a value of the wrong type is refused
with one line that names the key, where it came from and what it expects.

schema.py holds the section classes (the fields and their docs), load.py the
layers and `config set`/`unset`, render.py `config show` and docs/configuration.md.
Import from `personaforge.config`; the modules are its parts.
"""

from personaforge.config.load import (
    ENV_PREFIX,
    ENV_SEPARATOR,
    ConfigError,
    LoadedSettings,
    env_var_name,
    load_settings,
    parse_override,
    parse_value,
    read_config_file,
    set_in_file,
    split_dotted,
    unset_in_file,
)
from personaforge.config.render import render_reference_markdown, render_toml
from personaforge.config.schema import (
    ALL_LINEAR_TARGETS,
    REFLECTION_PHRASES,
    REFLECTION_TAGS,
    SECTIONS,
    DatasetSettings,
    DecodeSettings,
    GateSettings,
    IdentitySettings,
    IngestSettings,
    ModelSettings,
    PrivacyAction,
    PrivacySettings,
    RunSettings,
    ServeSettings,
    Settings,
    TrainSettings,
    describe_expected,
    parse_budget,
    split_comma_list,
)

__all__ = [
    "ALL_LINEAR_TARGETS",
    "ENV_PREFIX",
    "ENV_SEPARATOR",
    "REFLECTION_PHRASES",
    "REFLECTION_TAGS",
    "SECTIONS",
    "ConfigError",
    "DatasetSettings",
    "DecodeSettings",
    "GateSettings",
    "IdentitySettings",
    "IngestSettings",
    "LoadedSettings",
    "ModelSettings",
    "PrivacyAction",
    "PrivacySettings",
    "RunSettings",
    "ServeSettings",
    "Settings",
    "TrainSettings",
    "describe_expected",
    "env_var_name",
    "load_settings",
    "parse_budget",
    "parse_override",
    "parse_value",
    "read_config_file",
    "render_reference_markdown",
    "render_toml",
    "set_in_file",
    "split_comma_list",
    "split_dotted",
    "unset_in_file",
]
