"""Run the reliability suite and write docs/reliability.md: each test, its trials, what held.

    .venv/bin/python bench/reliability_table.py           # the fast part (what `make test` runs)
    .venv/bin/python bench/reliability_table.py --full    # the slow tests too (`make test-full`)
    .venv/bin/python bench/reliability_table.py --from bench/out/reliability.xml   # render only
    # render several runs as one table (the fast suite, and the long kill loop run alone)
    .venv/bin/python bench/reliability_table.py --from bench/out/reliability.xml \
        --from bench/out/kills-full.xml

The table is built from pytest's junit XML, not from a list kept by hand: every test
under tests/reliability/ is a row, whatever it exercises. A test reports its numbers
through the `trials` fixture of tests/reliability/conftest.py (junit `<property>`s:
`checks` = the docstring's first line, `trials`, `held`). Parametrized cases of one
test are summed into one row.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
XML = ROOT / "bench" / "out" / "reliability.xml"
DOC = ROOT / "docs" / "reliability.md"

INTRO = """# Reliability

What the reliability suite (`tests/reliability/`) tried and what held, one row per
test (parametrized cases summed). Written by `{command}`
on {date} ({machine}); do not edit by hand, rerun it.

The fast part runs in `make test`; tests marked `slow` (longer fuzzing, the long kill
loop) run in `make test-full` and in `bench/reliability_table.py --full`. A test records its
trials and what held through the `trials` fixture (tests/reliability/conftest.py).

The fault suites (issue #35) work on a person's home rather than the server: `test_kills`
SIGKILLs `run` (every stage), `forget` and `models promote/rollback` at seeded random moments
and checks the home after each kill; `test_full_disk` fills the disk during ingest, dataset
build, a checkpoint, an export and a registry write, twice: a 64 MiB tmpfs filled with ballast to
just below what the write needs (real ENOSPC; skipped where mounting is not allowed), and
RLIMIT_FSIZE as a stand-in that runs everywhere; `test_concurrent` runs
`run`, `forget`, a reloading server and the dashboard on one home at once.

"""


# The suites of issue #35 and what one of their trials is, for the summary line.
FAULT_SUITES = {
    "test_kills": "kills",
    "test_full_disk": "full-disk cases",
    "test_concurrent": "concurrent requests and commands",
}


@dataclass
class Row:
    suite: str
    test: str
    checks: str = ""
    cases: int = 0
    trials: int = 0
    held: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0


def run_suite(full: bool, xml: Path) -> int:
    xml.parent.mkdir(parents=True, exist_ok=True)
    # xunit1: the junit flavour that keeps per-test <property> elements (record_property).
    command = [
        *(sys.executable, "-m", "pytest", "-q", "tests/reliability"),
        *(f"--junitxml={xml}", "-o", "junit_family=xunit1"),
    ]
    env = dict(os.environ)
    if not full:
        command += ["-m", "not slow"]
    else:  # the long loops (the 50-kill one) also skip themselves outside `make test-full`
        env["PERSONAFORGE_TEST_FULL"] = "1"
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def read_rows(*xmls: Path) -> list[Row]:
    rows: dict[tuple[str, str], Row] = {}
    cases = [case for xml in xmls for case in ET.parse(xml).getroot().iter("testcase")]
    for case in cases:
        suite = case.get("classname", "").removeprefix("tests.reliability.")
        test = case.get("name", "").split("[", 1)[0]
        row = rows.setdefault((suite, test), Row(suite, test))
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        row.checks = row.checks or properties.get("checks", "")
        row.cases += 1
        row.seconds += float(case.get("time", 0))
        if case.find("skipped") is not None:
            row.skipped += 1
            continue
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            row.failures.append((problem.get("message") or "failed").splitlines()[0][:160])
            continue
        row.trials += int(properties.get("trials", 1))
        held = properties.get("held")
        if held and held not in row.held:
            row.held.append(held)
    return list(rows.values())


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row], command: str) -> str:
    machine = f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores"
    out = [INTRO.format(command=command, date=time.strftime("%Y-%m-%d"), machine=machine)]
    out += [
        "| test | checks | cases | trials | result | what held | s |",
        "|:-----|:-------|------:|-------:|:-------|:----------|--:|",
    ]
    for row in sorted(rows, key=lambda r: (r.suite, r.test)):
        if row.failures:
            result, held = f"**{len(row.failures)} failed**", "; ".join(row.failures)
        elif row.skipped == row.cases:
            result, held = "skipped", ""
        else:
            result, held = "passed", "; ".join(row.held)
        out.append(
            f"| `{row.suite}::{row.test}` | {cell(row.checks)} | {row.cases} | {row.trials} | "
            f"{result} | {cell(held)} | {row.seconds:.1f} |"
        )
    total = sum(r.trials for r in rows)
    failed = sum(len(r.failures) for r in rows)
    out += ["", f"{len(rows)} tests, {total} trials, {failed} failures."]
    faults = {
        suite: [r for r in rows if r.suite == suite and r.skipped != r.cases]
        for suite in FAULT_SUITES
    }
    if any(faults.values()):
        parts = [
            f"{sum(r.trials for r in ran)} {what} ({sum(len(r.failures) for r in ran)} failed)"
            for (suite, what), ran in zip(FAULT_SUITES.items(), faults.values(), strict=True)
        ]
        broken = sum(len(r.failures) for ran in faults.values() for r in ran)
        out += [
            "",
            f"Faults: {', '.join(parts)}; "
            + (
                "0 corruptions, 0 lost memories or versions (every check after every fault held)."
                if not broken
                else f"**{broken} failed**: see the rows above."
            ),
        ]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="Include tests marked slow.")
    parser.add_argument(
        "--from",
        dest="sources",
        type=Path,
        action="append",
        help="Render this junit XML (repeat to merge several); run nothing.",
    )
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args()
    code = 0
    sources = args.sources
    command = "python bench/reliability_table.py" + (" --full" if args.full else "")
    if not sources:
        sources = [XML]
        code = run_suite(args.full, XML)
    else:
        command += "".join(f" --from {path}" for path in sources)
    args.out.write_text(render(read_rows(*sources), command))
    print(f"wrote {args.out}")
    sys.exit(code)


if __name__ == "__main__":
    main()
