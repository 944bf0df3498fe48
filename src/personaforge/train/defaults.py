"""`model.base = auto`: which base this home trains on, and why, in one line.

    settings, line = with_base_for_machine(paths, settings)

The order, most binding first:

1. a base the user named (model.base set, or --base) is used as it is;
2. a home that already has a current version keeps that version's base, so a
   monthly run never switches base under the person's lineage;
3. otherwise the hardware decides (base.choose_base): smollm2-135m on CPU, a 1.5B
   instruct model on a GPU under 12 GB, an 8B instruct model in 4-bit from 12 GB.

The returned settings name the base outright, so everything downstream (the
registry's "is this version on the configured base", token counting, the run
record) compares real names, never "auto".
"""

from __future__ import annotations

from personaforge.bases import AUTO, BaseChoice, choose_base
from personaforge.config import Settings
from personaforge.paths import Paths
from personaforge.train.plan import Accelerator, detect_accelerator


def current_base(paths: Paths) -> tuple[str, str] | None:
    """(base, version) of the registry's current version; None without one. Creates nothing."""
    if not (paths.home / "registry.db").exists():
        return None
    from personaforge.registry import Registry

    with Registry.open(paths) as registry:
        current = registry.current()
        return (registry.get(current).base, current) if current else None


def choose_for_home(paths: Paths, accel: Accelerator | None = None) -> BaseChoice:
    """What `auto` means for this home: the current version's base, else the hardware's pick."""
    kept = current_base(paths)
    if kept is not None:
        base, version = kept
        return BaseChoice(base, f"the base of the current version {version}")
    accel = accel or detect_accelerator()
    return choose_base(accel.device, accel.memory_bytes)


def with_base_for_machine(
    paths: Paths, settings: Settings, accel: Accelerator | None = None
) -> tuple[Settings, str | None]:
    """Settings whose model.base is a real name, and a line saying why when auto chose it."""
    if settings.model.base != AUTO:
        return settings, None
    choice = choose_for_home(paths, accel)
    model = settings.model.model_copy(update={"base": choice.name})
    line = f"model.base auto: {choice.name} ({choice.why}; set model.base to choose another)"
    return settings.model_copy(update={"model": model}), line
