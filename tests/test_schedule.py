"""Schedules: the generated units are valid, install/status/remove round-trip per backend.

systemctl --user and crontab are replaced by small recording scripts on PATH: the
machines here have no user session bus and no cron, and the point is what
personaforge asks of them. `systemd-analyze verify` checks the real unit files.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from personaforge.errors import UserError
from personaforge.schedule import Cadence
from tests.helpers import run_cli


def fake_tool(folder, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def fake_bin(tmp_path, monkeypatch):
    """systemctl and crontab stand-ins that log their arguments; crontab keeps its table in a file."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "calls.log"
    table = tmp_path / "crontab.txt"
    fake_tool(folder, "systemctl", f'echo "systemctl $*" >> {log}\nexit 0\n')
    fake_tool(
        folder,
        "crontab",
        f'if [ "$1" = "-l" ]; then cat {table} 2>/dev/null; exit 0; fi\ncat > {table}\n',
    )
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return log, table


def test_dry_run_prints_a_persistent_low_priority_timer(capsys, paths):
    code, out, _ = run_cli(capsys, "schedule", "install", "--dry-run", "--backend", "systemd")
    assert code == 0
    assert "Persistent=true" in out and "OnCalendar=*-*-01 03:00:00" in out
    assert "Type=oneshot" in out and "Nice=19" in out and "IOSchedulingClass=idle" in out
    assert "systemd-inhibit --what=sleep" in out and "run --trigger schedule" in out
    assert f"--home {paths.home}" in out
    assert not (paths.home / "schedule.json").exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_generated_units_pass_systemd_analyze_verify(tmp_path, paths, monkeypatch):
    from personaforge.schedule import schedule_plan

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    plan = schedule_plan(paths, Cadence.weekly(1, 22, 30), ac_only=True, backend="systemd")
    for path, content in plan.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    done = subprocess.run(
        ["systemd-analyze", "verify", *map(str, plan.files)], capture_output=True, text=True
    )
    # verify reports problems as lines and still exits 0 for some; both must be clean.
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


def test_systemd_install_status_remove(capsys, paths, fake_bin):
    log, _ = fake_bin
    code, _, err = run_cli(capsys, "schedule", "install", "--backend", "systemd", "--ac-only")
    assert code == 0 and "installed (systemd)" in err
    units = os.environ["XDG_CONFIG_HOME"] + "/systemd/user/"
    service = Path(units) / "personaforge-run.service"
    assert "ConditionACPower=true" in service.read_text()
    assert "systemctl --user enable --now personaforge-run.timer" in log.read_text()
    code, out, _ = run_cli(capsys, "schedule", "status")
    assert code == 0 and "schedule: systemd (installed)" in out
    assert "last scheduled run: none yet" in out
    code, _, err = run_cli(capsys, "schedule", "remove")
    assert code == 0 and "removed the systemd schedule" in err
    assert not os.path.exists(units + "personaforge-run.timer")
    assert "systemctl --user disable --now personaforge-run.timer" in log.read_text()
    code, out, _ = run_cli(capsys, "schedule", "status")
    assert code == 0 and "no schedule installed" in out


def test_cron_install_keeps_other_lines_and_remove_takes_only_ours(capsys, paths, fake_bin):
    _, table = fake_bin
    table.write_text("5 4 * * * backup.sh\n")
    code, _, err = run_cli(capsys, "schedule", "install", "--backend", "cron", "--at", "15 02:30")
    assert code == 0, err
    lines = table.read_text().splitlines()
    assert lines[0] == "5 4 * * * backup.sh"
    assert (
        lines[1].startswith("30 2 15 * * PERSONAFORGE_HOME=")
        and "run --trigger schedule" in lines[1]
    )
    code, _, err = run_cli(capsys, "schedule", "install", "--backend", "cron")
    assert code == 0, err  # again: replaced, not doubled
    ours = [line for line in table.read_text().splitlines() if "personaforge-run" in line]
    assert len(ours) == 1 and ours[0].startswith("0 3 1 * * ")  # the default: the 1st, 03:00
    code, _, err = run_cli(capsys, "schedule", "remove")
    assert code == 0 and "removed the cron schedule" in err
    assert table.read_text().splitlines() == ["5 4 * * * backup.sh"]


def test_cadence_parsing_and_next_run():
    monthly = Cadence.parse(False, False, "15 02:30")
    assert monthly.on_calendar == "*-*-15 02:30:00"
    assert monthly.next_after(datetime(2026, 11, 20, 12, 0)) == datetime(2026, 12, 15, 2, 30)
    weekly = Cadence.parse(False, True, "sun 22:00")
    assert weekly.on_calendar == "Sun *-*-* 22:00:00"
    assert weekly.next_after(datetime(2026, 11, 25, 12, 0)) == datetime(2026, 11, 29, 22, 0)
    for bad in ("31 03:00", "1 25:00", "soon"):
        with pytest.raises(UserError, match="is not a time"):
            Cadence.parse(False, False, bad)
