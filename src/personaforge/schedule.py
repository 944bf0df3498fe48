"""Run `personaforge run` on a schedule: a systemd user timer, a launchd agent, or cron.

    plan = schedule_plan(paths, Cadence.monthly(), ac_only=False)
    install(plan)     # writes the files, enables them; remove(plan) undoes it

- Linux with a user systemd: `personaforge-run.service` (oneshot, lowest CPU and
  IO priority, holding a sleep inhibitor while it works, optionally only on AC
  power) and `personaforge-run.timer` with `Persistent=true`, so a month missed
  while the laptop was off runs at the next boot.
- macOS: a LaunchAgent plist with StartCalendarInterval, low-priority IO, run
  as a background process.
- Elsewhere (or without a user systemd): one crontab line marked with a comment.

Each backend is a small table entry: how to tell it is usable, what files or
lines it writes, the commands that enable and disable it. Logs go to the
home's logs/schedule.log; the result of each scheduled run is in `runs list`.
"""

from __future__ import annotations

import json
import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from personaforge.atomic import atomic_write_text
from personaforge.errors import UserError
from personaforge.paths import Paths

UNIT = "personaforge-run"
LAUNCHD_LABEL = "com.personaforge.run"
CRON_MARK = "# personaforge-run"


@dataclass(frozen=True)
class Cadence:
    """When to run: a systemd OnCalendar expression and the same time as cron/launchd fields."""

    on_calendar: str  # "*-*-01 03:00:00"
    minute: int
    hour: int
    day: int | None  # day of month (monthly)
    weekday: int | None  # 0 = Sunday (weekly)

    @classmethod
    def monthly(cls, day: int = 1, hour: int = 3, minute: int = 0) -> Cadence:
        return cls(f"*-*-{day:02d} {hour:02d}:{minute:02d}:00", minute, hour, day, None)

    @classmethod
    def weekly(cls, weekday: int = 0, hour: int = 3, minute: int = 0) -> Cadence:
        names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        return cls(
            f"{names[weekday]} *-*-* {hour:02d}:{minute:02d}:00", minute, hour, None, weekday
        )

    @classmethod
    def parse(cls, monthly: bool, weekly: bool, at: str | None) -> Cadence:
        """--monthly (default), --weekly, --at 'DAY HH:MM' (DAY: 1-28 for monthly, mon..sun weekly)."""
        if monthly and weekly:
            raise UserError("--monthly and --weekly exclude each other")
        if at is None:
            return cls.weekly() if weekly else cls.monthly()
        parts = at.split()
        try:
            hour, minute = (int(x) for x in parts[-1].split(":"))
            if weekly:
                days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
                weekday = days.index(parts[0].lower()[:3]) if len(parts) > 1 else 0
                cadence = cls.weekly(weekday, hour, minute)
            else:
                day = int(parts[0]) if len(parts) > 1 else 1
                if not 1 <= day <= 28:
                    raise ValueError
                cadence = cls.monthly(day, hour, minute)
            if not (0 <= hour < 24 and 0 <= minute < 60):
                raise ValueError
        except (ValueError, IndexError):
            example = "'mon 03:00'" if weekly else "'1 03:00' (day 1-28 of the month)"
            raise UserError(f"--at {at!r} is not a time; use {example}") from None
        return cadence

    def next_after(self, moment: datetime) -> datetime:
        """The next run time after `moment` (for cron, which cannot say it)."""
        candidate = moment.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        for _ in range(400):
            matches = (self.day is None or candidate.day == self.day) and (
                self.weekday is None or (candidate.weekday() + 1) % 7 == self.weekday
            )
            if matches and candidate > moment:
                return candidate
            candidate += timedelta(days=1)
        raise AssertionError("no run time within 400 days")


@dataclass
class SchedulePlan:
    paths: Paths
    cadence: Cadence
    ac_only: bool
    command: list[str]  # what runs: python -m personaforge --home H run --trigger schedule
    log: Path
    backend: str = ""
    files: dict[Path, str] = field(default_factory=dict)  # path -> content


def run_command(paths: Paths) -> list[str]:
    return [
        sys.executable,
        "-m",
        "personaforge",
        "--home",
        str(paths.home),
        "run",
        "--trigger",
        "schedule",
    ]


# -- systemd --------------------------------------------------------------------------------------


def systemd_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def systemd_units(plan: SchedulePlan) -> dict[Path, str]:
    inhibit = shutil.which("systemd-inhibit") or "/usr/bin/systemd-inhibit"
    command = " ".join(shlex.quote(part) for part in plan.command)
    service = "\n".join(
        [
            "[Unit]",
            "Description=personaforge: learn from this month's writing (personaforge run)",
            *(["ConditionACPower=true"] if plan.ac_only else []),
            "",
            "[Service]",
            "Type=oneshot",
            f"Environment=PERSONAFORGE_HOME={plan.paths.home}",
            # Training takes every core for minutes to hours: stay out of the person's way,
            # and keep the machine awake until it is done.
            "Nice=19",
            "IOSchedulingClass=idle",
            "CPUSchedulingPolicy=batch",
            f'ExecStart={inhibit} --what=sleep --who=personaforge --why="training a persona" {command}',
            f"StandardOutput=append:{plan.log}",
            f"StandardError=append:{plan.log}",
            "",
        ]
    )
    timer = "\n".join(
        [
            "[Unit]",
            "Description=personaforge run, on a schedule",
            "",
            "[Timer]",
            f"OnCalendar={plan.cadence.on_calendar}",
            "Persistent=true",  # a run missed while the machine was off happens at the next boot
            "RandomizedDelaySec=15min",
            f"Unit={UNIT}.service",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    folder = systemd_dir()
    return {folder / f"{UNIT}.service": service, folder / f"{UNIT}.timer": timer}


def _systemctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["systemctl", "--user", *args], capture_output=True, text=True)


def systemd_usable() -> bool:
    return (
        sys.platform.startswith("linux")
        and bool(shutil.which("systemctl"))
        and (_systemctl("show-environment").returncode == 0)
    )


def systemd_enable(plan: SchedulePlan) -> None:
    for args in (("daemon-reload",), ("enable", "--now", f"{UNIT}.timer")):
        done = _systemctl(*args)
        if done.returncode != 0:
            raise UserError(f"systemctl --user {' '.join(args)} failed: {done.stderr.strip()}")


def systemd_disable(plan: SchedulePlan) -> None:
    _systemctl("disable", "--now", f"{UNIT}.timer")
    for path in plan.files:
        path.unlink(missing_ok=True)
    _systemctl("daemon-reload")


def systemd_next(plan: SchedulePlan) -> str | None:
    done = _systemctl("show", f"{UNIT}.timer", "-p", "NextElapseUSecRealtime", "--value")
    value = done.stdout.strip()
    return value or None


# -- launchd --------------------------------------------------------------------------------------


def launchd_plist(plan: SchedulePlan) -> dict[Path, str]:
    interval: dict[str, int] = {"Hour": plan.cadence.hour, "Minute": plan.cadence.minute}
    if plan.cadence.day is not None:
        interval["Day"] = plan.cadence.day
    if plan.cadence.weekday is not None:
        interval["Weekday"] = plan.cadence.weekday
    content = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": plan.command,
        "EnvironmentVariables": {"PERSONAFORGE_HOME": str(plan.paths.home)},
        "StartCalendarInterval": interval,  # launchd runs a missed interval at the next wake
        "StandardOutPath": str(plan.log),
        "StandardErrorPath": str(plan.log),
        "LowPriorityIO": True,
        "Nice": 19,
        "ProcessType": "Background",
    }
    path = Path.home() / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    return {path: plistlib.dumps(content).decode()}


def launchd_usable() -> bool:
    return sys.platform == "darwin" and bool(shutil.which("launchctl"))


def launchd_enable(plan: SchedulePlan) -> None:
    (path,) = plan.files
    subprocess.run(["launchctl", "unload", str(path)], capture_output=True)
    done = subprocess.run(["launchctl", "load", "-w", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"launchctl load failed: {done.stderr.strip()}")


def launchd_disable(plan: SchedulePlan) -> None:
    for path in plan.files:
        subprocess.run(["launchctl", "unload", "-w", str(path)], capture_output=True)
        path.unlink(missing_ok=True)


# -- cron -----------------------------------------------------------------------------------------


def cron_line(plan: SchedulePlan) -> str:
    cadence = plan.cadence
    day = str(cadence.day) if cadence.day is not None else "*"
    weekday = str(cadence.weekday) if cadence.weekday is not None else "*"
    command = " ".join(shlex.quote(part) for part in plan.command)
    low = "nice -n 19 " + ("ionice -c3 " if shutil.which("ionice") else "")
    return (
        f"{cadence.minute} {cadence.hour} {day} * {weekday} "
        f"PERSONAFORGE_HOME={shlex.quote(str(plan.paths.home))} {low}{command} "
        f">> {shlex.quote(str(plan.log))} 2>&1 {CRON_MARK}"
    )


def _crontab() -> list[str]:
    done = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return done.stdout.splitlines() if done.returncode == 0 else []


def _write_crontab(lines: list[str]) -> None:
    done = subprocess.run(
        ["crontab", "-"], input="\n".join(lines) + "\n", capture_output=True, text=True
    )
    if done.returncode != 0:
        raise UserError(f"crontab failed: {done.stderr.strip()}")


def cron_usable() -> bool:
    return bool(shutil.which("crontab"))


def cron_enable(plan: SchedulePlan) -> None:
    kept = [line for line in _crontab() if CRON_MARK not in line]
    _write_crontab([*kept, cron_line(plan)])


def cron_disable(plan: SchedulePlan) -> None:
    _write_crontab([line for line in _crontab() if CRON_MARK not in line])


def cron_installed() -> bool:
    return any(CRON_MARK in line for line in _crontab())


@dataclass(frozen=True)
class Backend:
    name: str
    usable: Callable[[], bool]
    files: Callable[[SchedulePlan], dict[Path, str]]
    enable: Callable[[SchedulePlan], None]
    disable: Callable[[SchedulePlan], None]


BACKENDS = [
    Backend("systemd", systemd_usable, systemd_units, systemd_enable, systemd_disable),
    Backend("launchd", launchd_usable, launchd_plist, launchd_enable, launchd_disable),
    Backend("cron", cron_usable, lambda plan: {}, cron_enable, cron_disable),
]
BY_NAME = {backend.name: backend for backend in BACKENDS}


def pick_backend(name: str = "auto") -> Backend:
    if name != "auto":
        if name not in BY_NAME:
            raise UserError(f"unknown scheduler '{name}'; choose auto, {', '.join(BY_NAME)}")
        return BY_NAME[name]
    for backend in BACKENDS:
        if backend.usable():
            return backend
    raise UserError(
        "no scheduler here: no user systemd (systemctl --user), no launchd, no crontab; "
        "run `personaforge run` from your own scheduler"
    )


def schedule_plan(
    paths: Paths, cadence: Cadence, ac_only: bool = False, backend: str = "auto"
) -> SchedulePlan:
    chosen = pick_backend(backend)
    plan = SchedulePlan(
        paths, cadence, ac_only, run_command(paths), paths.home / "logs" / "schedule.log"
    )
    plan.backend = chosen.name
    plan.files = chosen.files(plan)
    return plan


def describe(plan: SchedulePlan) -> str:
    """What install would write: the unit files, the plist, or the crontab line."""
    if plan.backend == "cron":
        return cron_line(plan)
    return "\n".join(f"# {path}\n{content}" for path, content in plan.files.items())


def record_path(paths: Paths) -> Path:
    return paths.home / "schedule.json"


def install(plan: SchedulePlan) -> None:
    plan.log.parent.mkdir(parents=True, exist_ok=True)
    for path, content in plan.files.items():
        atomic_write_text(path, content)
    BY_NAME[plan.backend].enable(plan)
    record = {
        "backend": plan.backend,
        "cadence": asdict(plan.cadence),
        "ac_only": plan.ac_only,
        "files": [str(p) for p in plan.files],
        "installed_at": datetime.now().isoformat(timespec="seconds"),
    }
    atomic_write_text(record_path(plan.paths), json.dumps(record, indent=2) + "\n")


def installed_plan(paths: Paths) -> SchedulePlan | None:
    """The schedule `install` recorded for this home, or None."""
    path = record_path(paths)
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    plan = SchedulePlan(
        paths,
        Cadence(**record["cadence"]),
        record["ac_only"],
        run_command(paths),
        paths.home / "logs" / "schedule.log",
        record["backend"],
        {Path(p): "" for p in record["files"]},
    )
    return plan


def remove(paths: Paths) -> SchedulePlan | None:
    """Undo install; the plan that was removed, or None when nothing was installed."""
    plan = installed_plan(paths)
    if plan is None:
        return None
    BY_NAME[plan.backend].disable(plan)
    record_path(paths).unlink(missing_ok=True)
    return plan


def is_installed(plan: SchedulePlan) -> bool:
    if plan.backend == "cron":
        return cron_installed()
    return all(path.exists() for path in plan.files)


def next_run(plan: SchedulePlan, now: datetime | None = None) -> str:
    if plan.backend == "systemd":
        found = systemd_next(plan)
        if found:
            return found
    return plan.cadence.next_after(now or datetime.now()).strftime("%Y-%m-%d %H:%M")
