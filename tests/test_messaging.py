"""Issue 33: messaging and mail exports, read as their formats are (tests/fixtures/real/*, README).

Per format: exactly which of her words are kept as `self`, which messages stay
as others' context, and which texts nobody typed are dropped. Then identity:
without it ingest stops with the likely owner; with it, speakers follow it and
change when it changes. Then dialogue examples from chats, and `memories stats`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from personaforge.config import DatasetSettings, IdentitySettings, IngestSettings
from personaforge.dataset.extract import (
    MESSAGING_SOURCES,
    ExtractContext,
    conversations_of,
    extract,
    extract_dialogue,
)
from personaforge.errors import UserError
from personaforge.ingest import ingest
from personaforge.sources import MESSAGING, SOURCES, SourceFile, detect, whatsapp
from personaforge.sources.identity import Identity, People, likely_owner, resolve, stop_line
from personaforge.sources.mailtext import html_text, own_words
from personaforge.sources.messaging import undo_latin1_mojibake
from personaforge.store import MemoryDraft, MemoryStore
from tests.real_format import REAL, as_memories, markup_in

MAREN = IdentitySettings(
    names=["Maren Holt"],
    emails=["maren.holt@gmail.com", "maren@tidewatch.app"],
    ids=["user5120394876", "318273645501239296"],
)
WHATSAPP = REAL / "whatsapp"
TELEGRAM = REAL / "telegram" / "DataExport_2024-03-20" / "result.json"
TELEGRAM_ONE_CHAT = REAL / "telegram" / "ChatExport_2024-03-21" / "result.json"
DISCORD = REAL / "discord"
MESSENGER = REAL / "messenger" / "your_facebook_activity" / "messages" / "inbox"
INSTAGRAM = REAL / "messenger" / "your_instagram_activity" / "messages" / "inbox"
SIGNAL = REAL / "signal"
MBOX = REAL / "mail" / "Takeout" / "Mail" / "All mail Including Spam and Trash.mbox"
EML = REAL / "mail" / "thunderbird" / "Tidewatch beta - welkom.eml"


def read(path: Path, identity: IdentitySettings | None = MAREN, **settings):
    """Detect and parse one fixture file, speakers resolved as ingest resolves them."""
    source = detect(path.name.lower(), path.read_bytes()[:4096])
    assert source is not None and source.messaging, path
    file = SourceFile(path, path.relative_to(REAL).as_posix(), path.read_bytes(), 1.78e9)
    parsed = source.parse(file, IngestSettings(**settings))
    parsed.warnings += resolve(parsed.memories, parsed.people, Identity.from_settings(identity))
    return source.name, parsed


def said(parsed, speaker: str) -> list[str]:
    return [m.text for m in parsed.memories if m.speaker == speaker]


def everything(parsed) -> str:
    return "\n".join(m.text for m in parsed.memories)


def test_the_dataset_knows_every_messaging_source():
    assert set(MESSAGING) == MESSAGING_SOURCES


# -- WhatsApp -------------------------------------------------------------------------------


def test_whatsapp_ios_keeps_her_words_and_drops_what_whatsapp_wrote():
    _, parsed = read(WHATSAPP / "WhatsApp Chat - Anna Berg" / "_chat.txt")
    assert said(parsed, "self") == [
        "Yes! Bringing the kayak 🚣\nTide turns at 11:40 – we have a window: go early.",
        "It is. Blåbær-blue, fair enough",  # the edit kept, the <This message was edited> gone
        "Honestly? Better than expected.\nNet: the word order finally clicks. Tomorrow: listening practice.",
    ]
    assert said(parsed, "other") == [
        "Are you coming to the harbour on Saturday?\nIt starts at 10, bring the spray deck",
        "Is that the new one? Looks fast",
        "How did the Dutch exam prep go?",
        "🎉 café on me next week",
    ]
    text = everything(parsed)
    for notice in (
        "end-to-end",
        "omitted",
        "attached",
        "deleted",
        "Missed",
        "maps.google",
        "\u200e",
    ):
        assert notice not in text, notice
    # A silence of eleven days starts a new conversation; the replies stay within theirs.
    conversations = [m.meta["conversation_id"] for m in parsed.memories]
    assert (
        conversations
        == ["Anna Berg@2024-03-02T09:14:02"] * 4 + ["Anna Berg@2024-03-13T21:05:44"] * 3
    )
    assert [m.created_at for m in parsed.memories][:2] == [
        "2024-03-02T09:14:02",
        "2024-03-02T09:20:11",
    ]
    # iOS credits the encryption notice to the contact: Anna did not export this chat.
    assert parsed.people.not_owner == {"anna berg"}


def test_whatsapp_android_group_12_hour_clock_and_system_lines():
    _, parsed = read(WHATSAPP / "WhatsApp Chat with Harbour Paddlers.txt")
    assert said(parsed, "self") == [
        "In. I checked the tide table: slack water at 9:40.\nLet's launch at 9:15 and be back before the ebb.",
        "Coffee, obviously. Is that a question? Mostly not.",
        "Still on. Bring a thermos.",
    ]
    assert said(parsed, "other") == [
        "Who is in for Sunday 9:00?",
        "Me! Weather looks calm",
        "Route for Sunday",  # the caption under "IMG-…jpg (file attached)"
        "Nice route",
        "Sunday is still on?",
    ]
    text = everything(parsed)
    for dropped in ("created group", "added you", "changed the subject", "left", "POLL", "null"):
        assert dropped not in text, dropped
    assert parsed.memories[2].created_at == "2024-03-14T08:09:00"  # 8:09 AM, U+202F before AM
    assert parsed.memories[-1].created_at == "2024-03-15T19:42:00"  # 7:42 PM
    assert all(m.meta["group"] for m in parsed.memories)


def test_whatsapp_reads_only_lower_case_null_as_a_view_once_notice():
    from personaforge.sources.whatsapp import clean_text

    assert clean_text("null") == ("", "view once")  # what Android writes
    for typed in ("NULL", "Null", "null pointer again"):  # what a person types
        assert clean_text(typed) == (typed, None)


def test_whatsapp_day_month_order_inferred_when_no_day_is_above_twelve():
    _, parsed = read(WHATSAPP / "WhatsApp Chat - Ingrid" / "_chat.txt")
    assert [m.created_at[:10] for m in parsed.memories] == [
        "2024-04-03",
        "2024-04-03",
        "2024-04-05",
        "2024-05-02",
    ]  # 03.04 -> 05.04 -> 02.05 runs forward only as day.month
    assert said(parsed, "self")[-1] == "Takk for påsken. Fair enough, jeg savner fjellene."


@pytest.mark.parametrize(
    ("dates", "order"),
    [
        (["12/31/21", "1/2/22"], "mdy"),
        (["31.12.21", "1.2.22"], "dmy"),
        (["2024/12/10", "2024/12/11"], "ymd"),
        (["03.04.24", "05.04.24", "02.05.24"], "dmy"),
        (["04/03/24", "04/05/24", "05/02/24"], "mdy"),
    ],
)
def test_whatsapp_date_order(dates, order):
    assert whatsapp.date_order(dates) == order


@pytest.mark.parametrize(
    "line",
    [
        "[12/31/21, 11:59:59\u202fPM] Anna: x",
        "\u200e[31/12/2021, 23:59:59] Anna: x",
        "31/12/2021, 23:59 - Anna: x",
        "12/31/21, 11:59 PM - Anna: x",
        "9/24/2019 11:30 p.m. - John Doe: x",
        "12/24/2019 11:30 p.\u00a0m. - John Doe: x",
        "[12.3.2022 klo 14.08.18] Matias: x",
        "31.12.21, 23:59 - Anna: x",
        "2024/12/01, 10:04 pm - Anna: x",
    ],
)
def test_whatsapp_header_layouts_are_read(line, tmp_path):
    path = tmp_path / "_chat.txt"
    path.write_text(line + "\n", encoding="utf-8")
    parsed = SOURCES["whatsapp"].parse(
        SourceFile(path, "_chat.txt", path.read_bytes(), 0), IngestSettings()
    )
    assert [m.text for m in parsed.memories] == ["x"] and not parsed.bad


def test_whatsapp_text_before_the_first_message_is_a_bad_record(tmp_path):
    data = b"exported by a script\n[31/12/2021, 23:59:59] Anna: x\n"
    parsed = SOURCES["whatsapp"].parse(
        SourceFile(tmp_path / "c.txt", "c.txt", data, 0), IngestSettings()
    )
    assert parsed.bad == ["line 1: text before the first message"]
    assert [m.text for m in parsed.memories] == ["x"]


# -- Telegram ---------------------------------------------------------------------------------


def test_telegram_keeps_what_she_typed_and_drops_forwards_bots_and_service():
    _, parsed = read(TELEGRAM, identity=None)  # the export names its owner
    assert said(parsed, "self") == [
        "Yes. No paddling then. I checked https://www.knmi.nl twice.",  # entities as text
        "Café instead. Fair enough ☕",
        "Welcome. Tell me where the tide times are wrong, with the station name.",
        "Thanks. Probably the shallow-water constituents. Fix tonight, M4 first.",
        "Idea: show slack water as a band, not a line.",  # Saved Messages
        "Saturday works. 18 km, easy pace.",  # a group she left
    ]
    text = everything(parsed)
    assert "6 Beaufort" not in text  # forwarded_from
    assert "tidal streams" not in text.lower()  # saved_from, and the channel
    assert "No paddling then.\nAgreed" not in text and "Agreed, café instead?" in text  # blockquote
    assert "phone_call" not in text and "Sunday?" not in said(parsed, "other")  # service, poll
    assert "The harbour this morning" in said(parsed, "other")  # a caption is typed text
    assert "Next high water Hoek van Holland: 11:42" in said(parsed, "other")  # a bot: never hers


def test_telegram_single_chat_needs_identity_ids():
    _, parsed = read(TELEGRAM_ONE_CHAT, identity=IdentitySettings(ids=["5120394876"]))
    assert said(parsed, "self") == ["Ja, etter jobb. Hun vil snakke om påsken."]
    assert "Forwarded tide table" not in everything(parsed)
    _, by_name = read(TELEGRAM_ONE_CHAT, identity=IdentitySettings(names=["Maren Holt"]))
    assert said(by_name, "self") == []  # Telegram is matched by id, not by a display name
    assert by_name.warnings and "identity.ids" in by_name.warnings[0]


# -- Discord ----------------------------------------------------------------------------------


def test_discord_keeps_typed_messages_and_drops_bots_interactions_and_forwards():
    _, dm = read(DISCORD / "Direct Messages - anna.berg [1190011223344556677].json")
    assert said(dm, "self") == [
        "Pushed. Offsets now come from the station file, not a constant.\n"
        "Honestly, the constant was a hack from week one."
    ]
    text = everything(dm)
    assert "Release notes" not in text and "Started a call" not in text and "Pinned" not in text
    _, server = read(DISCORD / "Sea Kayak NL - Trips - tides [955001122334455999].json")
    assert said(server, "self") == [
        "Bot says 09:40. I would add 10 minutes of margin: the model is still rough near the mouth."
    ]
    text = everything(server)
    assert "Slack water at Hoek van Holland" not in text  # a bot's interaction response
    assert "Reminder" not in text and "Joined the server" not in text and "Sunday trip" not in text
    assert server.memories[0].meta["conversation_title"] == "Sea Kayak NL #tides"


def test_discord_username_works_as_an_id():
    _, parsed = read(
        DISCORD / "Direct Messages - anna.berg [1190011223344556677].json",
        identity=IdentitySettings(ids=["maren_h"]),
    )
    assert len(said(parsed, "self")) == 1


# -- Messenger and Instagram ------------------------------------------------------------------


def test_messenger_mojibake_undone_newest_first_reordered_and_notices_dropped():
    thread = MESSENGER / "annaberg_10158012345678901"
    _, older = read(thread / "message_2.json")
    _, newer = read(thread / "message_1.json")
    assert said(older, "self") == ["Skål! Next time I bring the brunost 🧀"]
    assert said(older, "other") == ["Tusen takk for the waffles, they were perfect"]
    assert said(newer, "self") == [
        "I'm not the one who burnt the pancakes – that was Ingrid\n"
        "Is that true? Mostly. Crêpes at mine on Sunday then."
    ]
    text = everything(older) + everything(newer)
    for notice in ("Reacted", "Liked a message", "sent an attachment", "connected on Messenger"):
        assert notice not in text, notice
    assert "missed your call" not in text
    ids = [m.locator for m in older.memories + newer.memories]
    assert len(ids) == len(set(ids))  # two files of one thread never clash
    assert all(m.locator.startswith("messenger:inbox/annaberg_") for m in older.memories)


def test_instagram_reads_like_messenger():
    source, parsed = read(INSTAGRAM / "sofie.dewit_17843091234567890" / "message_1.json")
    assert source == "messenger" and parsed.memories[0].meta["format"] == "instagram"
    assert said(parsed, "self") == [
        "Het was prachtig vandaag. Volgende week naar de Biesbosch?\n"
        "Sofie, zondag om 9 uur bij de steiger? Ik neem koffie mee ☕"
    ]
    assert said(parsed, "other") == ["Wat een zonsondergang 😍"]


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("Caf\u00c3\u00a9", "Café"),
        ("\u00f0\u009f\u0098\u0082", "😂"),
        ("Café", "Café"),  # already right: not UTF-8 once encoded as latin-1, left alone
        ("😂 ok", "😂 ok"),  # above U+00FF: never mojibake
        ("plain", "plain"),
    ],
)
def test_latin1_mojibake(raw, fixed):
    assert undo_latin1_mojibake(raw) == fixed


# -- Signal -----------------------------------------------------------------------------------


def test_signal_me_is_her_and_quotes_calls_and_deletions_are_dropped():
    _, parsed = read(SIGNAL / "Anna Berg" / "data.json", identity=None)
    assert said(parsed, "self") == [
        "It did. Signing on Friday – Net: I am moving in September.\nHonestly still a bit unreal",
        "Packing list started: boxes, tape, the kayak stays in Rotterdam until October.",
    ]
    assert said(parsed, "other") == [
        "Morning! Did the Delft flat come through?",
        "So happy for you!",
    ]
    text = everything(parsed)
    assert "Do you need boxes" not in text and "voice call" not in text


def test_signal_chat_md_is_not_read_as_a_note(tmp_path):
    store = MemoryStore.open(tmp_path / "m.db")
    summary = ingest([SIGNAL], store, IngestSettings(), show_progress=False)
    assert dict(summary.files_by_source) == {"signal": 2}
    assert [Path(p).name for p in summary.unrecognised] == ["chat.md"]
    assert {m.source for m in store.memories()} == {"signal"}


# -- Mail -------------------------------------------------------------------------------------


def test_mail_keeps_her_words_only():
    _, parsed = read(MBOX, identity=None)  # Gmail's Sent label names the owner
    assert said(parsed, "self") == [
        "Yes, 8 works. I'll bring the thermos and the tide table – slack water at 10:05, so we go "
        "with the ebb.\nFrom the harbour we can be on the water by 9.\n\nNet: Saturday, 8:00, my "
        "place.\n\nMaren",  # quoted-printable UTF-8; '>From' unescaped; quote and signature cut
        "Added both. Den Helder is rough: the model is off by 15 minutes there – I am on it.\n\n"
        "Is that good enough for Sunday? Mostly.",  # HTML only, base64; gmail_quote, iPhone line
        "Worth reading before Saturday. Spring tide, so the stream is stronger than usual.",
        "Hei Ingrid, kommer du til Rotterdam i påsken? Jeg lager vafler.",
    ]
    others = said(parsed, "other")
    assert "Perfect, see you at 8. I'll bring the stroopwafels.\n\nAnna" in others  # Outlook cut
    assert "Ja! Jeg kommer torsdag. Mamma sender brunost." in others  # "Am … schrieb" cut
    text = everything(parsed)
    for dropped in (
        "wrote:",
        "Original",
        "Forwarded",
        "Rijkswaterstaat",
        "Sent from",
        "Get Outlook",
    ):
        assert dropped not in text, dropped
    assert "You won a kayak" not in text and "never sent" not in text  # Spam, Drafts
    # Her words quoted inside Anna's Outlook reply are not Anna's, and are not hers twice.
    assert sum("so we go with the ebb" in t for t in [*said(parsed, "self"), *others]) == 1
    first = parsed.memories[1]
    assert first.meta["subject"] == "Re: Weekend paddle? Biesbosch én koffie"  # RFC 2047
    assert {m.meta["conversation_title"] for m in parsed.memories[:3]} == {"Weekend paddle?"}


def test_mail_threads_are_conversations_however_long_the_reply_takes():
    _, parsed = read(MBOX, identity=None, chat_gap_hours=1)
    thread = [m for m in parsed.memories if m.meta["conversation_title"] == "Ostern"]
    assert [m.meta["turn"] for m in thread] == [0, 1]  # 13 hours apart, one conversation
    assert len({m.meta["conversation_id"] for m in thread}) == 1


def test_eml_from_one_of_her_addresses_is_hers():
    _, parsed = read(EML)
    assert said(parsed, "self") == [
        "Hoi Sofie,\n\nWelkom bij de beta. Short version: tap a station, read the slack water\n"
        "time, add ten minutes of margin. Tell me where it is wrong.\n\nGroet,\nMaren"
    ]
    assert parsed.memories[0].meta["subject"] == "Tidewatch beta – welkom"  # RFC 2047 base64
    _, by_name = read(EML, identity=IdentitySettings(names=["Maren Holt"]))
    assert said(by_name, "self") == []  # mail is matched on the address, not the display name


@pytest.mark.parametrize(
    ("body", "kept", "cut"),
    [
        ("Sure.\n\nOn Mon, 4 Mar 2024, Anna <a@b.nl> wrote:\n> hi", "Sure.", "quoted reply"),
        (
            "Sure.\n\nOn Mon, 4 Mar 2024 at 10:00, Anna Berg <anna.berg@example.nl>\nwrote:\n> hi",
            "Sure.",
            "quoted reply",
        ),
        ("Ja.\n\nAm 06.03.2024 um 19:00 schrieb Maren <m@x.de>:\n> x", "Ja.", "quoted reply"),
        (
            "Oui.\n\nLe lun. 4 mars 2024 à 10:00, Anna <a@b.fr> a écrit :\n> x",
            "Oui.",
            "quoted reply",
        ),
        (
            "Sí.\n\nEl lun, 4 mar 2024 a las 10:00, Ana (<a@b.es>) escribió:\n> x",
            "Sí.",
            "quoted reply",
        ),
        ("Ja.\n\nOp ma 4 mrt 2024 om 10:00 schreef Anna <a@b.nl>:\n> x", "Ja.", "quoted reply"),
        (
            "Ok.\n\nVon: Anna Berg\nGesendet: Montag, 4. März 2024 10:00\nAn: Maren\nBetreff: x\n\nold",
            "Ok.",
            "outlook header",
        ),
        (
            "See below.\n\n-----Original Message-----\nFrom: x\n\nold",
            "See below.",
            "forwarded or original message",
        ),
        ("FYI\n\nBegin forwarded message:\n\nFrom: x", "FYI", "forwarded or original message"),
        ("Thanks!\n-- \nMaren Holt\n+31 6 1234 5678", "Thanks!", "signature"),
        ("Thanks!\n\nSent from my iPhone", "Thanks!", "client signature"),
        ("> is it on?\nYes, it is.\n> and Sunday?\nAlso.", "Yes, it is.\nAlso.", "inline quote"),
    ],
)
def test_own_words(body, kept, cut):
    text, kinds = own_words(body)
    assert text == kept and cut in kinds


def test_own_words_leaves_a_plain_mail_alone():
    body = (
        "Hi Anna,\n\nFrom Rotterdam to Delft is 15 minutes by train.\nSent it yesterday.\n\nMaren"
    )
    assert own_words(body) == (body, [])


def test_html_text_drops_quotes_and_keeps_blocks():
    html = (
        "<html><head><style>p{}</style></head><body><p>One &amp; two</p><ul><li>a</li><li>b</li>"
        "</ul><blockquote>quoted</blockquote><div class='gmail_quote'>old <b>mail</b></div>"
        "<div>after<br>line</div></body></html>"
    )
    assert html_text(html) == "One & two\n\n- a\n\n- b\n\nafter\nline"


# -- identity -------------------------------------------------------------------------------


def test_ingest_without_identity_stops_with_the_likely_owner_and_writes_nothing(tmp_path):
    store = MemoryStore.open(tmp_path / "m.db")
    with pytest.raises(UserError) as stopped:
        ingest([WHATSAPP, REAL / "vault"], store, IngestSettings(), show_progress=False)
    line = str(stopped.value)
    assert "\n" not in line
    assert 'likely "Maren Holt", the author in every chat (3)' in line
    assert line.endswith('personaforge config set identity.names "Maren Holt"')
    assert store.count() == 0 and store.last_run() is None  # stopped before any write


def test_one_chat_alone_still_names_her_because_ios_credits_the_notice_to_the_contact(tmp_path):
    store = MemoryStore.open(tmp_path / "m.db")
    with pytest.raises(UserError, match='likely "Maren Holt"'):
        ingest(
            [WHATSAPP / "WhatsApp Chat - Anna Berg"], store, IngestSettings(), show_progress=False
        )


def test_likely_owner_is_the_author_in_every_chat_and_ties_say_so():
    one = People(key="name")
    for chat, authors in {"a": ["x", "me"], "b": ["me", "y"], "c": ["z", "me", "z"]}.items():
        for author in authors:
            one.count(chat, author, author.upper())
    ranked, total = likely_owner([one])
    assert total == 3 and ranked[0].shown == "ME" and ranked[0].chats == 3
    tie = People(key="email")
    tie.count("t", "a@x", "A")
    tie.count("t", "b@x", "B")
    line = stop_line([tie], "mail.mbox")
    assert 'in 1 of 1 chats; also "B" (1)' in line  # two authors in the only chat: a guess, said so
    assert line.endswith('identity.emails "a@x"')


def test_exports_that_name_their_owner_need_no_identity(tmp_path):
    store = MemoryStore.open(tmp_path / "m.db")
    summary = ingest([TELEGRAM, SIGNAL, MBOX], store, IngestSettings(), show_progress=False)
    assert dict(summary.files_by_source) == {"telegram": 1, "signal": 2, "mail": 1}
    assert dict(store.counts_by("speaker"))["self"] == 6 + 3 + 4


def test_changing_identity_rereads_chats_without_touching_the_files(tmp_path):
    store = MemoryStore.open(tmp_path / "m.db")
    chats = tmp_path / "chats"
    shutil.copytree(WHATSAPP, chats)
    first = ingest(
        [chats],
        store,
        IngestSettings(),
        identity=IdentitySettings(names=["Maren"]),
        show_progress=False,
    )
    assert dict(store.counts_by("speaker")) == {"other": 19}
    assert len(first.warnings) == 3 and "identity.names" in first.warnings[0][1]
    again = ingest(
        [chats],
        store,
        IngestSettings(),
        identity=IdentitySettings(names=["Maren"]),
        show_progress=False,
    )
    assert again.files_unchanged == 3 and again.memories.updated == 0
    fixed = ingest([chats], store, IngestSettings(), identity=MAREN, show_progress=False)
    assert fixed.files_changed == 3 and fixed.memories.updated == 8
    assert dict(store.counts_by("speaker")) == {"other": 11, "self": 8}


def test_config_set_identity_then_ingest_and_stats(tmp_path, capsys):
    from tests.test_cli import run_cli

    code, _, err = run_cli(capsys, "ingest", str(WHATSAPP))
    assert code == 2 and 'identity.names "Maren Holt"' in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    code, _, err = run_cli(capsys, "config", "set", "identity.names", "Maren Holt,Maren")
    assert code == 0 and "['Maren Holt', 'Maren']" in err
    code, _, _ = run_cli(capsys, "ingest", str(WHATSAPP), str(TELEGRAM), str(MBOX))
    assert code == 0
    code, out, _ = run_cli(capsys, "memories", "stats", "--json")
    stats = json.loads(out)
    assert stats["by_source"] == {"mail": 8, "telegram": 13, "whatsapp": 19}
    assert stats["by_speaker"] == {"other": 22, "self": 18}


# -- dialogue ---------------------------------------------------------------------------------


def _memories(*paths: Path):
    found = []
    for path in paths:
        source, parsed = read(path)
        found += as_memories(source, parsed.memories)
    return found


def test_a_reply_to_someone_else_is_a_dialogue_example_and_others_are_only_prompt():
    memories = _memories(
        WHATSAPP / "WhatsApp Chat - Anna Berg" / "_chat.txt",
        WHATSAPP / "WhatsApp Chat with Harbour Paddlers.txt",
        MBOX,
    )
    context = ExtractContext(DatasetSettings(person_name="Maren"), conversations_of(memories))
    examples = extract_dialogue(memories, context)
    mine = {m.text for m in memories if m.speaker == "self"}
    theirs = {m.text for m in memories if m.speaker == "other"}
    assert examples and {e.target for e in examples} <= mine
    for example in examples:
        assert example.primary.speaker == "self"
        for message in example.messages[1:-1]:
            if message["role"] == "assistant":
                assert message["content"] in mine
    first = next(e for e in examples if e.target.startswith("Yes! Bringing the kayak"))
    assert first.messages[1] == {
        "role": "user",
        "content": "Are you coming to the harbour on Saturday?\nIt starts at 10, bring the spray deck",
    }
    group = next(e for e in examples if e.target.startswith("In. I checked the tide table"))
    assert group.messages[1] == {  # two people in a row: one prompt, each named
        "role": "user",
        "content": "Jonas Vermeer: Who is in for Sunday 9:00?\n\nSofie de Wit: Me! Weather looks calm",
    }
    mail = next(e for e in examples if e.target.startswith("Yes, 8 works"))
    assert mail.messages[1]["content"].startswith("Hi Maren,\n\nAre you up for the Biesbosch")
    # Her forward opens its thread and her Easter mail opens Ingrid's: nobody to answer.
    assert not any(e.target.startswith(("Worth reading", "Hei Ingrid")) for e in examples)
    assert all(e.target not in theirs for e in examples)


def test_no_other_kind_trains_on_chat_messages():
    memories = _memories(WHATSAPP / "WhatsApp Chat - Anna Berg" / "_chat.txt", TELEGRAM, MBOX)
    context = ExtractContext(DatasetSettings(person_name="Maren"), conversations_of(memories))
    kinds = ["voice", "reflection", "knowledge"]
    assert extract(memories, kinds, context) == []


def test_a_dialogue_target_never_holds_markup_others_wrote(tmp_path):
    memories = _memories(*[p for p in REAL.rglob("*") if p.is_file() and _is_messaging(p)])
    context = ExtractContext(DatasetSettings(person_name="Maren"), conversations_of(memories))
    examples = extract_dialogue(memories, context)
    assert len(examples) >= 12
    for example in examples:
        assert not markup_in(example.target), example.target
        assert "\u200e" not in example.target and ">" not in example.target.split("\n")[0][:1]


def _is_messaging(path: Path) -> bool:
    source = detect(path.name.lower(), path.read_bytes()[:4096])
    return source is not None and source.messaging


def test_discord_interaction_responses_are_dropped_whoever_the_author():
    message = {
        "id": "1",
        "type": "Default",
        "timestamp": "2024-03-05T08:06:11+01:00",
        "content": "Slack water at 09:40.",
        "author": {"id": "2", "name": "tide-app", "isBot": False},
        "interaction": {"id": "3", "name": "tide", "user": {"id": "4", "name": "maren_h"}},
    }
    from personaforge.sources.discord import is_typed

    assert not is_typed(message)
    assert is_typed({**message, "interaction": None})


def test_her_mail_after_her_own_mail_is_no_reply():
    other = {"author": "Anna", "author_email": "a@x"}
    drafts = []
    for turn, (speaker, text) in enumerate(
        [("other", "Are you in?"), ("self", "Yes, in."), ("self", "And I bring coffee.")]
    ):
        drafts.append(
            MemoryDraft(
                locator=f"mail:t/{turn}",
                text=text,
                created_at=f"2024-03-0{turn + 1}T10:00:00+00:00",
                mode="conversation",
                speaker=speaker,
                meta={
                    "conversation_id": "mail:t@x",
                    "turn": turn,
                    **(other if speaker == "other" else {}),
                },
            )
        )
    memories = as_memories("mail", drafts)
    context = ExtractContext(DatasetSettings(), conversations_of(memories))
    assert [e.target for e in extract_dialogue(memories, context)] == ["Yes, in."]


# -- the sample person ---------------------------------------------------------------------------


def test_the_sample_persons_chats_are_read_as_she_wrote_them(sample_data, tmp_path):
    from personaforge.sample import sample_identity
    from personaforge.sample.messaging import her_messages

    store = MemoryStore.open(tmp_path / "m.db")
    folders = [
        sample_data / "chats" / "whatsapp",
        sample_data / "chats" / "telegram",
        sample_data / "mail",
    ]
    with pytest.raises(UserError, match='likely "Maren Holt", the author in every chat'):
        ingest(folders, store, IngestSettings(), show_progress=False)
    summary = ingest(
        folders, store, IngestSettings(), identity=sample_identity(), show_progress=False
    )
    assert dict(summary.files_by_source) == {"whatsapp": 2, "telegram": 1, "mail": 1}
    assert summary.warnings == [] and summary.bad_records == []
    mine = "\n".join(m.text for m in store.memories() if m.speaker == "self")
    assert [text for text in her_messages() if text not in mine] == []
    theirs = "\n".join(m.text for m in store.memories() if m.speaker == "other")
    for never in (
        "end-to-end",
        "omitted",
        "deleted",
        "POLL",
        "Rijkswaterstaat",
        "wrote:",
        "kayak today",
    ):
        assert never not in mine + theirs, never
    assert "Mamma asks if you are coming home in August" in theirs


def test_the_demo_home_knows_who_she_is(paths):
    from personaforge.config import load_settings
    from personaforge.demo import configure_home

    paths.ensure()
    configure_home(paths, "tiny:micro", "Maren")
    identity = load_settings(paths).settings.identity
    assert identity.names == ["Maren Holt"] and identity.emails == ["maren.holt@gmail.com"]


def test_an_unchanged_export_is_not_read_again_under_the_same_settings(tmp_path, monkeypatch):
    store = MemoryStore.open(tmp_path / "m.db")
    export = tmp_path / "telegram"
    shutil.copytree(TELEGRAM.parent, export)
    ingest([export], store, IngestSettings(), show_progress=False)  # it names its owner
    reads = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or original(self))
    again = ingest([export], store, IngestSettings(), show_progress=False)
    assert reads == [] and again.files_unchanged == 1  # not even by the identity check
    ingest([export], store, IngestSettings(), identity=MAREN, show_progress=False)
    assert [p.name for p in reads] == ["result.json"]  # other settings: read once more


def test_dataset_show_prints_dialogue_examples_from_chats(capsys, sample_data, monkeypatch):
    from tests.test_cli import run_cli

    monkeypatch.setenv("PERSONAFORGE_IDENTITY__NAMES", "Maren Holt")
    chats = [str(sample_data / "chats" / "whatsapp"), str(sample_data / "chats" / "telegram")]
    assert run_cli(capsys, "ingest", *chats, str(sample_data / "mail"))[0] == 0
    code, out, _ = run_cli(capsys, "dataset", "build", "--kind", "dialogue")
    assert code == 0 and "dialogues: whatsapp 12, telegram 5, mail 3" in out
    code, out, _ = run_cli(
        capsys, "dataset", "show", "--examples", "dialogue", "--source", "whatsapp", "--limit", "2"
    )
    assert code == 0 and out.count("dialogue · whatsapp ·") == 2
    assert "  user: Mamma asks if you are coming home in August" in out
    assert "  assistant: Yes. First to ninth of August, booked last night." in out
    code, _, err = run_cli(
        capsys, "dataset", "show", "--examples", "dialogue", "--source", "signal"
    )
    assert code == 0 and "no dialogue examples from signal" in err
