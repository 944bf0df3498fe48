"""Distil what was learned into USER_PROFILE.md: facts with evidence, a style, a probe.

    profile = build_profile(paths, settings, version="v3")   # rules (+ teacher), style, probe
    write_profile(paths, profile)                            # home + adapters/v3/
    write_profile(paths, profile, target_dir=export_folder)  # next to an export
    print(render_diff(diff_profiles(load_profile(paths, "v2"), profile)))
    result = probe_persona(paths, settings, "v3")            # for the gate report: result.as_dict()

Modules: facts.py (Fact, evidence, supersession), rules.py (the deterministic
extractor), teacher.py (the LLM extractor, strict JSON), style.py
(communication style), records.py (Profile, ProfileDiff, ProbeResult: the data
and its JSON), probe.py (ask the model, check its claims), build.py (build,
probe with the profile's facts, save, load, diff), render.py (Markdown).
docs/profile.md says what is and is not guaranteed.
"""

from personaforge.profile.build import (
    build_profile,
    diff_profiles,
    learned_until,
    load_profile,
    probe_persona,
    write_profile,
)
from personaforge.profile.facts import Evidence, Fact
from personaforge.profile.probe import QUESTIONS, check_answer
from personaforge.profile.records import ProbeResult, Profile, ProfileDiff
from personaforge.profile.render import render_diff, render_markdown

__all__ = [
    "QUESTIONS",
    "Evidence",
    "Fact",
    "ProbeResult",
    "Profile",
    "ProfileDiff",
    "build_profile",
    "check_answer",
    "diff_profiles",
    "learned_until",
    "load_profile",
    "probe_persona",
    "render_diff",
    "render_markdown",
    "write_profile",
]
