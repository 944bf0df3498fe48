"""What every settings section shares: strict sections, lists given as "a,b,c", durations."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


def split_comma_list(value: Any) -> Any:
    """Let a list setting be given as "a,b,c" (environment, --set) as well as a TOML list."""
    if isinstance(value, str):
        return [part.strip() for part in value.strip("[]").split(",") if part.strip()]
    return value


# "30m", "2h", "1h30m", "90s", "45" (minutes): a number and a unit, repeated.
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([hms]?)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 60.0}
NO_BUDGET = ("none", "off", "0")


def parse_budget(value: str) -> float | Literal["auto"] | None:
    """'30m' -> 1800.0 seconds; 'none' -> None; 'auto' -> 'auto'. Anything else is a ValueError."""
    text = value.strip().lower().replace(" ", "")
    if text == "auto":
        return "auto"
    if text in NO_BUDGET:
        return None
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"'{value}' is not a duration: use e.g. 30m, 2h, 1h30m, 90s, none or auto")
    seconds = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError(f"'{value}' is no time at all: use none for no budget")
    return seconds


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
