"""USER_PROFILE.md: facts with evidence, a fact that changes, privacy, two extractors, diff, probe, CLI."""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from personaforge.config import IngestSettings, Settings
from personaforge.ingest import ingest
from personaforge.paths import Paths
from personaforge.profile import (
    QUESTIONS,
    Profile,
    build_profile,
    check_answer,
    diff_profiles,
    learned_until,
    load_profile,
    render_diff,
    render_markdown,
    write_profile,
)
from personaforge.profile.build import scrub_facts
from personaforge.profile.facts import Evidence, Fact, fact_id
from personaforge.profile.render import fact_line as render_fact_lines
from personaforge.profile.rules import TAG
from personaforge.sample import sample_identity
from personaforge.store import MemoryStore
from tests.helpers import micro_home, micro_settings
from tests.test_cli import run_cli


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory, sample_data) -> Paths:
    """The sample person ingested into a home of its own (shared: tests copy what they change)."""
    paths = Paths(tmp_path_factory.mktemp("profile") / "home")
    with MemoryStore.open(paths.memory_store) as store:
        ingest(
            [sample_data], store, IngestSettings(), identity=sample_identity(), show_progress=False
        )
    return paths


@pytest.fixture(scope="module")
def manifest(sample_data) -> dict:
    return json.loads((sample_data / "sample-manifest.json").read_text())


@pytest.fixture(scope="module")
def profile(sample_home) -> Profile:
    return build_profile(sample_home, Settings(), probe=False)


def keyed(profile: Profile, key: str) -> dict[str, Fact]:
    return {f.value: f for f in profile.facts if f.key == key}


# -- a fact that changes -------------------------------------------------------------------------------


def test_the_move_makes_delft_current_and_rotterdam_superseded_with_dates(profile, manifest):
    history = {e["value"]: e for e in manifest["fact_history"] if e["key"] == "home_city"}
    homes = keyed(profile, "home_city")
    delft, rotterdam = homes["Delft"], homes["Rotterdam"]
    assert set(homes) == {"Delft", "Rotterdam"}
    assert delft.status == "current" and delft.first_seen == history["Delft"]["from"]
    assert rotterdam.status == "superseded" and rotterdam.superseded_by == delft.id
    assert rotterdam.changed_on == history["Rotterdam"]["until"] == "2026-09-26"
    assert rotterdam.first_seen < rotterdam.changed_on and not rotterdam.conflict
    assert profile.fact("home_city") is delft
    markdown = render_markdown(profile)
    assert "~~**Lives in:** Rotterdam~~ — superseded by Delft on 2026-09-26" in markdown
    recent = markdown.split("## Changed recently")[1].split("\n## ")[0]
    assert "2026-09-26: Lives in: Rotterdam → Delft" in recent


def test_a_person_named_by_what_they_do_is_a_relationship(profile):
    """ "Priya, who leads the team, asked ..." names her team lead; a name that only does
    something ("Tom, who found the bug") names nobody's role."""
    from personaforge.profile.rules import LEADS_TEAM

    lead = keyed(profile, "relationship:team lead")
    assert "Priya" in lead and lead["Priya"].status == "current"
    assert any("who leads the team" in e.quote for e in lead["Priya"].evidence)
    assert not LEADS_TEAM.search("Tom, who found the bug, leads nothing.")


def test_before_the_move_rotterdam_is_current(sample_home):
    august = build_profile(sample_home, Settings(), probe=False, as_of="2026-08-31")
    homes = keyed(august, "home_city")
    assert set(homes) == {"Rotterdam"} and homes["Rotterdam"].status == "current"
    assert august.as_of == "2026-08-31" and all(f.last_seen <= "2026-08-31" for f in august.facts)


def test_a_value_stated_again_after_the_change_is_flagged_as_a_conflict(sample_home):
    from dataclasses import replace

    from personaforge.profile.facts import Candidate, merge

    with MemoryStore.open(sample_home.memory_store) as store:
        memory = store.memories(source="episodic")[0]

    def said(city: str, day: str, tense: str = "current") -> Candidate:
        dated = replace(memory, id=f"m-{city}-{day}", text=f"{day} {city}", created_at=day)
        return Candidate("home_city", city, dated, f"I live in {city}.", "rules:test", tense)

    facts = merge(
        [
            said("Oslo", "2026-06-01"),
            said("Bergen", "2026-07-01"),
            said("Oslo", "2026-08-01"),  # Oslo again after the move to Bergen: the notes disagree
            said("Bergen", "2026-09-01"),
        ]
    )
    by_value = {f.value: f for f in facts}
    assert by_value["Bergen"].status == "current"
    oslo = by_value["Oslo"]
    assert oslo.status == "superseded" and oslo.superseded_by == by_value["Bergen"].id
    assert oslo.changed_on == "2026-07-01" and oslo.conflict
    assert "the notes disagree" in "\n".join(render_fact_lines(oslo, {f.id: f for f in facts}))
    clean = {f.value: f for f in merge([said("Oslo", "2026-06-01"), said("Bergen", "2026-07-01")])}
    assert clean["Oslo"].changed_on == "2026-07-01" and not clean["Oslo"].conflict
    past = merge([said("Oslo", "2026-06-01", "past")])
    assert past[0].status == "superseded" and past[0].changed_on is None


# -- evidence ----------------------------------------------------------------------------------------------


def _flat(text: str) -> str:
    return " ".join(TAG.sub("", text).split())


def test_every_fact_rests_on_live_memories_that_say_it(profile, sample_home):
    assert len(profile.facts) >= 20
    with MemoryStore.open(sample_home.memory_store) as store:
        live = {m.id: m for m in store.memories()}
    for fact in profile.facts:
        ids = fact.memory_ids
        assert fact.support == len(ids) >= 1, fact
        assert set(ids) <= set(live), fact
        dates = sorted(live[i].created_at[:10] for i in ids)
        assert (fact.first_seen, fact.last_seen) == (dates[0], dates[-1]), fact
        assert fact.status in ("current", "superseded")
        for evidence in fact.evidence:
            memory = live[evidence.memory_id]
            assert evidence.date == memory.created_at[:10]
            if evidence.extractor in ("rules:mention", "rules:lives-in", "rules:moved-to"):
                assert _flat(evidence.quote) in _flat(memory.text), evidence
            if not fact.statement and evidence.extractor == "rules:mention":
                assert fact.value.casefold() in memory.text.casefold()
    # An exact copy of a note is one memory of support, not two.
    sourdough = keyed(profile, "interest")["Sourdough"]
    texts = [" ".join(live[i].text.split()) for i in sourdough.memory_ids]
    assert len(texts) == len(set(texts))


def test_the_markdown_cites_evidence_for_every_fact_and_has_every_section(profile):
    markdown = render_markdown(profile)
    for title in (
        "Identity and background",
        "Work and technical skills",
        "Current projects and context",
        "Interests and routines",
        "Relationships",
        "Values and opinions",
        "Communication style",
        "Changed recently",
        "What the model says about you",
    ):
        assert f"\n## {title}\n" in markdown, title
    fact_lines = [
        line for line in markdown.splitlines() if line.startswith(("- **", "- ~~**", "- “"))
    ]
    assert len(fact_lines) >= 20
    for line in fact_lines:
        assert re.search(r"\d+ memor(?:y|ies) \(2026-\d\d-\d\d", line), line
        assert re.search(r"`[0-9a-f]{8}`", line), line
    # People appear by role and name, never with what the notes say about them.
    relationships = markdown.split("## Relationships")[1].split("\n## ")[0]
    assert "**Sister:** Ingrid" in relationships and ">" not in relationships


def test_the_communication_style_is_measured_from_her_writing(profile):
    style = profile.style
    assert style is not None and style.words > 5000 and style.sentences > 500
    # Maren writes short declarative sentences and opens summaries with "Net:" and "Tomorrow:".
    assert style.words_per_sentence["median"] < 10 and style.short_sentence_share > 0.4
    openings = dict(style.openings)
    assert "Net:" in openings and "Tomorrow:" in openings
    assert style.answered_questions > 0 and style.punctuation_per_1k_words["dash (—, –, ' - ')"] > 1


# -- privacy ---------------------------------------------------------------------------------------------


def _planted(manifest: dict) -> list[str]:
    values = []
    for secret in manifest["planted_secrets"]:
        value = secret["value"].strip().splitlines()[0]
        values.append(value)
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 8:
            values.append(digits)
    return values


def test_no_planted_secret_reaches_the_profile(profile, sample_home, manifest, tmp_path):
    paths = Paths(tmp_path / "home")
    shutil.copytree(sample_home.home, paths.home)
    written = write_profile(paths, profile)
    text = "".join(path.read_text() for path in written)
    flat_digits = re.sub(r"\D", "", text)
    for value in _planted(manifest):
        assert value not in text, value
        if value.isdigit():
            assert value not in flat_digits, value


def _fact(value: str, quote: str) -> Fact:
    evidence = [Evidence("0123456789abcdef", "2026-07-09", quote, "teacher")]
    return Fact(
        fact_id("tool", value),
        "tool",
        value,
        "work",
        "Uses",
        evidence,
        1,
        "2026-07-09",
        "2026-07-09",
    )


def test_scrub_drops_credentials_redacts_personal_data_and_withholds_quotes(manifest):
    secrets = {s["kind"]: s["value"] for s in manifest["planted_secrets"]}
    policy = Settings().privacy.model_dump()
    facts = [
        _fact(f"key {secrets['api_key']}", "the staging key"),
        _fact(f"mail {secrets['email']}", "write to me"),
        _fact("Neovim", f"my phone is {secrets['phone']}"),
    ]
    kept, counts = scrub_facts(facts, policy)
    assert [f.value for f in kept] == ["mail [EMAIL]", "Neovim"]
    assert kept[1].evidence[0].quote.startswith("(quote withheld")
    assert counts == {"facts_dropped": 1, "values_redacted": 1, "quotes_withheld": 1}


# -- the LLM extractor, against a local stand-in for an OpenAI-compatible server ----------------------------


class CannedTeacher(BaseHTTPRequestHandler):
    """Answers every batch with canned facts about the notes it was sent, some of them bad."""

    secret = ""
    requests = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests += 1
        prompt = body["messages"][1]["content"]
        assert "JSON Schema" in body["messages"][0]["content"]
        notes = dict(
            (int(n), text)
            for n, text in re.findall(
                r"(?:^|\n\n)Note (\d+): (.*?)(?=\n\nNote \d+: |\Z)", prompt, re.S
            )
        )
        facts: list[object] = []
        for number, text in notes.items():
            if "Moved to Delft today" in text:
                facts.append(
                    {
                        "note": number,
                        "key": "home_city",
                        "value": "Delft",
                        "quote": "Moved to Delft today.",
                    }
                )
                # Invented: neither the quote nor the city is in the note.
                facts.append(
                    {
                        "note": number,
                        "key": "home_city",
                        "value": "Paris",
                        "quote": "I live in Paris now.",
                    }
                )
            jonas = re.search(r"[^.!?\n]*\bJonas\b[^.!?\n]*[.!?]", text)
            if jonas:  # a reading of the note the rules do not make: Jonas is a friend
                facts.append(
                    {
                        "note": number,
                        "key": "relationship:friend",
                        "value": "Jonas",
                        "quote": jonas.group(0).strip(),
                        "tense": "current",
                    }
                )
                # A real quote, an invented value.
                facts.append(
                    {
                        "note": number,
                        "key": "hometown",
                        "value": "Oslo",
                        "quote": jonas.group(0).strip(),
                    }
                )
            if self.secret and self.secret in text:
                facts.append(
                    {
                        "note": number,
                        "key": "tool",
                        "value": self.secret,
                        "quote": f"the staging key is {self.secret}",
                    }
                )
            facts.append({"note": number, "key": "salary", "value": "a lot", "quote": "x y"})
        reply = "this is not JSON" if type(self).requests == 1 else json.dumps({"facts": facts})
        payload = json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": reply}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def teacher_url(manifest):
    CannedTeacher.secret = next(
        s["value"] for s in manifest["planted_secrets"] if s["kind"] == "api_key"
    )
    CannedTeacher.requests = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedTeacher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_teacher_facts_join_the_rules_only_when_the_notes_bear_them_out(
    sample_home, profile, teacher_url, tmp_path
):
    paths = Paths(tmp_path / "home")
    shutil.copytree(sample_home.home, paths.home)
    built = build_profile(paths, Settings(), teacher=teacher_url, probe=False)
    report = built.extractors["teacher"]
    assert report["accepted"] >= 3 and CannedTeacher.requests >= 2
    assert report["rejected"]["quote not in the note"] >= 1  # Paris
    assert report["rejected"]["value not in the note"] >= 1  # Oslo
    assert report["rejected"]["unknown key"] >= 1  # salary
    assert any("not the JSON asked for" in p for p in report["problems"])
    assert "Jonas" not in keyed(profile, "relationship:friend")  # the rules alone do not say it
    friend = keyed(built, "relationship:friend")["Jonas"]
    assert friend.extractors == ["teacher"] and friend.support >= 2
    assert all(e.extractor == "teacher" and "Jonas" in e.quote for e in friend.evidence)
    delft = keyed(built, "home_city")["Delft"]
    assert delft.extractors == ["rules", "teacher"] and delft.status == "current"
    assert "Paris" not in keyed(built, "home_city") and "Oslo" not in keyed(built, "hometown")
    assert built.privacy["facts_dropped"] >= 1
    text = "".join(p.read_text() for p in write_profile(paths, built))
    assert CannedTeacher.secret not in text and "teacher http://127.0.0.1" in text
    # Cached by request: a rebuild asks the server nothing.
    before = CannedTeacher.requests
    again = build_profile(paths, Settings(), teacher=teacher_url, probe=False)
    assert CannedTeacher.requests == before and again.extractors["teacher"]["cached"] >= 2


def test_an_unreachable_teacher_leaves_the_rules_profile(sample_home, tmp_path):
    paths = Paths(tmp_path / "home")
    shutil.copytree(sample_home.home, paths.home)
    settings = Settings(dataset={"teacher_retries": 0, "teacher_timeout_s": 2})
    built = build_profile(paths, settings, teacher="http://127.0.0.1:9/v1", probe=False)
    report = built.extractors["teacher"]
    assert report["accepted"] == 0 and report["failed"] == 2 and report["requests"] == 2
    assert any("unreachable" in p for p in report["problems"])
    assert built.fact("home_city").value == "Delft"


def test_the_same_store_gives_the_same_profile(profile, sample_home):
    again = build_profile(sample_home, Settings(), probe=False).as_dict()
    first = profile.as_dict()
    assert {**again, "built_at": None} == {**first, "built_at": None}


# -- versions and diff ----------------------------------------------------------------------------------------


def _fake_version(paths: Paths, name: str, parent: str | None, days: list[str]) -> None:
    """A version folder as far as the profile reads it: its card and its dataset's dates."""
    dataset = f"ds-{name}"
    (paths.datasets / dataset).mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"messages": [], "meta": {"date": day}}) for day in days]
    (paths.datasets / dataset / "train.jsonl").write_text("\n".join(rows) + "\n")
    folder = paths.adapters / name
    folder.mkdir(parents=True)
    card = {"version": name, "parent": parent, "dataset": {"id": dataset}}
    (folder / "personaforge.json").write_text(json.dumps(card))


@pytest.fixture
def versioned_home(sample_home, tmp_path) -> Paths:
    paths = Paths(tmp_path / "home")
    shutil.copytree(sample_home.home, paths.home)
    _fake_version(paths, "v1", None, ["2026-06-02T00:00:00", "2026-08-31T21:00:00"])
    _fake_version(paths, "v2", "v1", ["2026-10-30", "2026-09-01"])
    return paths


def test_a_version_covers_what_it_and_its_ancestors_learned(versioned_home):
    assert learned_until(versioned_home, "v1") == "2026-08-31"
    assert learned_until(versioned_home, "v2") == "2026-10-30"


def test_diff_shows_added_changed_superseded_and_dropped(versioned_home):
    v1 = build_profile(versioned_home, Settings(), "v1", probe=False)
    v2 = build_profile(versioned_home, Settings(), "v2", probe=False)
    assert v1.fact("home_city").value == "Rotterdam" and v2.fact("home_city").value == "Delft"
    diff = diff_profiles(v1, v2)
    assert {
        "key": "home_city",
        "label": "Lives in",
        "old": "Rotterdam",
        "new": "Delft",
        "since": "2026-09-26",
    } in diff.changed
    assert [f.value for f in diff.superseded if f.key == "home_city"] == ["Rotterdam"]
    assert "Delft" in [f.value for f in diff.added if f.key == "home_city"]
    assert not diff.dropped  # v2 learned everything v1 did
    # A memory forgotten after v2 was built: its facts drop out of the next profile.
    with MemoryStore.open(versioned_home.memory_store) as store:
        ingrid = [m for m in store.memories() if m.meta.get("note") == "Ingrid"]
        for memory in ingrid:
            store.db.execute(
                "UPDATE memories SET deleted_at = '2026-11-01' WHERE id = ?", (memory.id,)
            )
    forgotten = build_profile(versioned_home, Settings(), "v2", probe=False)
    dropped = diff_profiles(v2, forgotten).dropped
    assert "Ingrid" in [f.value for f in dropped if f.key == "relationship:sister"]
    markdown = render_diff(diff)
    for heading in ("## Changed", "## Superseded", "## Added", "## Dropped"):
        assert heading in markdown
    assert "- Lives in: Rotterdam → Delft (since 2026-09-26)" in markdown
    assert diff_profiles(v2, v2).empty()


# -- probing the trained persona ----------------------------------------------------------------------------------


def test_claims_are_checked_against_the_notes(profile, sample_home):
    with MemoryStore.open(sample_home.memory_store) as store:
        claims, uncheckable = check_answer(
            "Where do you live?",
            "I live in Delft now. My home is in Rotterdam. Cycled along the Maas before work. "
            "I moved to Paris with my cat Felix. Yes. Tomorrow I work in the morning.",
            profile.facts,
            store,
        )
    verdicts = {c.text: c for c in claims}
    assert verdicts["I live in Delft now."].verdict == "reproduces"
    assert verdicts["I live in Delft now."].facts == [keyed(profile, "home_city")["Delft"].id]
    assert verdicts["My home is in Rotterdam."].verdict == "stale"
    maas = verdicts["Cycled along the Maas before work."]
    assert maas.verdict == "supported" and maas.evidence
    paris = verdicts["I moved to Paris with my cat Felix."]
    assert paris.verdict == "unsupported" and not paris.evidence and "paris" in paris.missing
    # "Yes." says nothing; "tomorrow", "work" and "morning" are in most of her notes, so a
    # sentence made only of them cannot be told true or false.
    assert uncheckable == 2 and len(claims) == 4


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory, micro_models_dir, sample_data) -> Paths:
    from personaforge.train.run import TrainRequest, train

    paths = micro_home(tmp_path_factory.mktemp("profile-trained"), micro_models_dir, sample_data)
    train(paths, probe_settings(), TrainRequest(fresh=True, show_progress=False))
    return paths


def probe_settings(**decode) -> Settings:
    """Greedy unless told otherwise: the sorting tests rely on the micro base's greedy babble."""
    settings = micro_settings({"max_new_tokens": 16}, max_steps=4, eval_steps=2, save_steps=100)
    greedy = {"temperature": 0, "repetition_penalty": 1.0, **decode}
    return settings.model_copy(update={"decode": settings.decode.model_copy(update=greedy)})


def test_the_probe_lists_supported_and_unsupported_claims_separately(
    trained_home, profile, tmp_path
):
    from dataclasses import replace

    from personaforge.profile import ProbeResult

    paths = Paths(tmp_path / "home")
    shutil.copytree(trained_home.home, paths.home, symlinks=True)
    built = build_profile(paths, probe_settings(), "v1")
    probe = built.probe
    assert probe is not None and probe.version == "v1"
    assert [a["question"] for a in probe.answers] == [q for q, _ in QUESTIONS]
    assert all(a["answer"] for a in probe.answers)  # the adapter over the micro base answered
    # The micro base only babbles ("user user user", or the same over lines): every answer is
    # one or more sentences that say nothing checkable, so there is no claim to sort, and the
    # counts say exactly that. (How many sentences depends on what the four steps learned.)
    assert probe.claims == [] and probe.uncheckable >= len(QUESTIONS)
    assert probe.summary() == {
        "reproduces": 0,
        "supported": 0,
        "stale": 0,
        "unsupported": 0,
        "uncheckable": probe.uncheckable,
        "questions": len(QUESTIONS),
    }
    # Sorting and rendering, on an answer a better model could give (checked against the notes).
    answer = "I live in Delft now. My home is in Rotterdam. I moved to Paris with my cat Felix."
    with MemoryStore.open(paths.memory_store) as store:
        claims, uncheckable = check_answer(QUESTIONS[0][0], answer, profile.facts, store)
        live = {m.id for m in store.memories()}
    shown = replace(built, probe=ProbeResult("v1", probe.answers, claims, uncheckable))
    sorted_claims = shown.probe
    assert [c.text for c in sorted_claims.supported] == ["I live in Delft now."]
    assert [c.text for c in sorted_claims.unsupported] == [
        "My home is in Rotterdam.",  # stale: she moved
        "I moved to Paris with my cat Felix.",
    ]
    assert all(c.evidence and set(c.evidence) <= live for c in sorted_claims.supported)
    markdown = render_markdown(shown)
    section = markdown.split("## What the model says about you")[1].split("\n## ")[0]
    supported, unsupported = section.split(
        "### Unsupported: the model claims this without evidence"
    )
    assert "### Supported: the model reproduces this" in supported
    assert "I live in Delft now." in supported and "Delft" not in unsupported
    assert "My home is in Rotterdam." in unsupported and "Paris" in unsupported
    assert "Paris" not in supported
    # Saved with the version as JSON, and loaded back the same.
    write_profile(paths, shown)
    again = load_profile(paths, "v1")
    assert again.probe.as_dict() == sorted_claims.as_dict()
    assert len(again.facts) == len(built.facts)


# -- the command line ------------------------------------------------------------------------------------


def test_profile_commands_and_exit_codes(versioned_home, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PERSONAFORGE_HOME", str(versioned_home.home))
    code, _, err = run_cli(capsys, "profile", "show")
    assert code == 2 and "profile build" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_cli(capsys, "profile", "build", "--no-probe")
    assert code == 0 and "Lives in Rotterdam → now Delft" in out
    assert (versioned_home.home / "USER_PROFILE.md").exists()
    code, out, _ = run_cli(capsys, "profile", "show")
    assert code == 0 and out.startswith("# About you") and "Delft" in out
    code, out, _ = run_cli(capsys, "profile", "show", "--json")
    assert code == 0 and json.loads(out)["schema"] == 1
    for version in ("v1", "v2"):
        code, _, _ = run_cli(capsys, "profile", "build", "--version", version, "--no-probe")
        assert code == 0 and (versioned_home.adapters / version / "USER_PROFILE.md").exists()
    code, out, _ = run_cli(capsys, "profile", "diff", "v1", "v2")
    assert code == 0 and "# Profile diff: v1 → v2" in out and "Lives in: Rotterdam → Delft" in out
    code, out, _ = run_cli(capsys, "profile", "diff", "v1", "v2", "--json")
    assert code == 0 and json.loads(out)["changed"][0]["new"] == "Delft"
    code, _, err = run_cli(capsys, "profile", "diff", "v1", "v7")
    assert code == 2 and "no profile at" in err
    code, _, err = run_cli(capsys, "profile", "build", "--as-of", "August", "--no-probe")
    assert code == 2 and "--as-of expects a date" in err
    code, _, err = run_cli(capsys, "profile", "build", "--version", "v9", "--no-probe")
    assert code == 2 and "no adapter version 'v9'" in err
    monkeypatch.setenv("PERSONAFORGE_HOME", str(tmp_path / "empty"))
    code, _, err = run_cli(capsys, "profile", "build")
    assert code == 2 and "no memory store" in err and "Traceback" not in err


def test_write_profile_into_a_target_folder(profile, tmp_path):
    written = write_profile(Paths(tmp_path / "home"), profile, target_dir=tmp_path / "export")
    assert sorted(p.name for p in written) == ["USER_PROFILE.json", "USER_PROFILE.md"]
    assert all(p.parent == tmp_path / "export" for p in written)
    assert not (tmp_path / "home" / "USER_PROFILE.md").exists()
    assert Profile.from_dict(
        json.loads((tmp_path / "export" / "USER_PROFILE.json").read_text())
    ).facts


def test_the_probe_decodes_with_the_decode_settings(trained_home):
    """The probe's answers are what a person chatting would read: decoded with settings
    `decode`, seeded, so a penalty changes them and a sampled rerun repeats them."""
    from personaforge.profile import probe_persona

    def answers(**decode) -> list[str]:
        result = probe_persona(trained_home, probe_settings(**decode), "v1", facts=[])
        return [a["answer"] for a in result.answers]

    greedy = answers()
    assert answers(repetition_penalty=1.8) != greedy
    sampled = answers(temperature=1.0, top_p=0.95)
    assert sampled != greedy and answers(temperature=1.0, top_p=0.95) == sampled
