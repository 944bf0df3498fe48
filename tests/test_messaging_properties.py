"""Property tests for the messaging and mail parsers (issue 33): generated chats in each format.

A chat is a list of events: her messages, other people's, and things nobody
typed that each format mixes in (system lines, notices, forwards, inline-bot
and bot messages, quoted text, signatures). Each is written the way its format
writes it, read back, and these must hold:

- every `self` memory came from messages she sent (its lines are her lines), and
  every `other` memory from other people's;
- no system, forwarded, bot, quoted or signature text is in any memory (each
  carries a marker word that must not come back);
- every typed message comes back word for word, non-ASCII included (accents,
  CJK, right-to-left, emoji, combining marks; Messenger's latin-1 escapes undone).
"""

from __future__ import annotations

import base64
import json
import quopri
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personaforge.config import IdentitySettings, IngestSettings
from personaforge.sources import SOURCES, SourceFile
from personaforge.sources.identity import Identity, resolve

PROPERTIES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ME = "Maren Holt"
ME_ID = "5120394876"
ME_EMAIL = "maren.holt@gmail.com"
IDENTITY = IdentitySettings(names=[ME], emails=[ME_EMAIL], ids=[f"user{ME_ID}", "1001"])
OTHERS = ["Anna Berg", "Jonas Vermeer", "Søren Ødegård", "李小龙"]
# Letters from many scripts, emoji and a combining accent; no punctuation any format treats
# as structure (":" after a name, ">" of a quote, "<…>" of a notice, "-" of a signature).
ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
    + "äöüåæøéñçßÆØÅ"
    + ("中文字語" + "שלוםעולם" + "مرحبا" + "🚣☕🎉🧀" + "e\u0301")
)
word = st.text(alphabet=ALPHABET, min_size=1, max_size=8)
line = st.lists(word, min_size=1, max_size=6).map(" ".join)
# A message that is exactly "null" is what Android's export writes for a view-once photo.
text = st.lists(line, min_size=1, max_size=3).map("\n".join).filter(lambda t: t != "null")
single_line = line.filter(lambda t: t != "null")

# Markers that may appear only in text nobody typed; none of them may come back.
MARKER = "Zqxmarker"


@dataclass(frozen=True)
class Event:
    kind: str  # her, other, or a kind the format drops
    author: str
    text: str


def events(noise: list[str], multiline: bool = True):
    """Chats of 1..12 events: hers, others', and the format's noise kinds."""
    body = text if multiline else single_line
    typed = st.one_of(
        st.builds(Event, st.just("her"), st.just(ME), body),
        st.builds(Event, st.just("other"), st.sampled_from(OTHERS), body),
    )
    dropped = st.builds(
        Event,
        st.sampled_from(noise),
        st.sampled_from([ME, *OTHERS]),
        st.just(f"{MARKER} words"),
    )
    return st.lists(typed | dropped, min_size=1, max_size=12)


def check(source: str, name: str, data: bytes, chat: list[Event]) -> None:
    file = SourceFile(Path("/p") / name, name, data, 1.78e9)
    parsed = SOURCES[source].parse(file, IngestSettings(chat_gap_hours=1000))
    resolve(parsed.memories, parsed.people, Identity.from_settings(IDENTITY))
    assert not parsed.bad, parsed.bad
    lines = {
        speaker: {ln.strip() for e in chat if e.kind == kind for ln in e.text.split("\n")}
        for speaker, kind in (("self", "her"), ("other", "other"))
    }
    for memory in parsed.memories:
        assert MARKER not in memory.text, (memory.speaker, memory.text)
        for ln in memory.text.split("\n"):
            if ln.strip():
                assert ln.strip() in lines[memory.speaker], (memory.speaker, ln, lines)
    for kind, speaker in (("her", "self"), ("other", "other")):
        kept = "\n".join(m.text for m in parsed.memories if m.speaker == speaker)
        for event in chat:
            if event.kind == kind:
                assert event.text.strip() in kept, (event, kept)


def times(count: int) -> list[datetime]:
    start = datetime(2024, 3, 2, 9, 0, 0)
    return [start + timedelta(minutes=7 * i + 1) for i in range(count)]


# -- WhatsApp ---------------------------------------------------------------------------------

WA_NOISE = {
    "system": lambda ios, e: "\u200eMessages and calls are end-to-end encrypted. " + e.text,
    "media": lambda ios, e: "\u200eimage omitted" if ios else "<Media omitted>",
    "deleted": lambda ios, e: (
        "\u200eThis message was deleted." if ios else "This message was deleted"
    ),
    "view once": lambda ios, e: "\u200eview once voice message omitted" if ios else "null",
    "notice": lambda ios, e: "\u200e" + e.text,
}


@PROPERTIES
@given(
    chat=events(sorted(WA_NOISE)), ios=st.booleans(), twelve=st.booleans(), day_first=st.booleans()
)
def test_whatsapp(chat, ios, twelve, day_first):
    rows = []
    for when, event in zip(times(len(chat)), chat, strict=True):
        date = f"{when:%d/%m/%Y}" if day_first else f"{when.month}/{when.day}/{when:%y}"
        seconds = ":%S" if ios else ""  # iOS writes seconds, Android does not
        clock = when.strftime(f"%I:%M{seconds}\u202f%p" if twelve else f"%H:%M{seconds}")
        if event.kind in ("her", "other"):
            body = event.text
        elif event.kind == "system" and not ios:  # Android: no author at all
            rows.append(f"{date}, {clock} - {WA_NOISE['system'](ios, event).lstrip(chr(0x200E))}")
            continue
        else:
            body = WA_NOISE[event.kind](ios, event)
        head = f"[{date}, {clock}] " if ios else f"{date}, {clock} - "
        rows.append(f"{head}{event.author}: {body}")
    check("whatsapp", "_chat.txt", ("\n".join(rows) + "\n").encode(), chat)


# -- Telegram ---------------------------------------------------------------------------------

TG_NOISE = ["forwarded_from", "via_bot", "saved_from", "service", "blockquote"]


def _entities(value: str, split: int) -> list:
    """The text as Telegram's entity list: a plain part and a bold part."""
    cut = min(split, len(value))
    parts = [value[:cut], {"type": "bold", "text": value[cut:]}]
    return [p for p in parts if p]


@PROPERTIES
@given(chat=events(TG_NOISE), split=st.integers(0, 12), full=st.booleans())
def test_telegram(chat, split, full):
    messages = []
    for number, (when, event) in enumerate(zip(times(len(chat)), chat, strict=True)):
        from_id = (
            f"user{ME_ID}" if event.author == ME else f"user{9000 + OTHERS.index(event.author)}"
        )
        message = {
            "id": number,
            "type": "message",
            "date": when.isoformat(),
            "date_unixtime": str(int(when.replace(tzinfo=timezone.utc).timestamp())),
            "from": event.author,
            "from_id": from_id,
            "text": _entities(event.text, split) if number % 2 else event.text,
        }
        if event.kind == "service":
            message.update(type="service", actor=event.author, action="pin_message")
        elif event.kind == "blockquote":
            message["text"] = [{"type": "blockquote", "text": event.text}]
        elif event.kind not in ("her", "other"):
            message[event.kind] = "Kayak News" if event.kind != "via_bot" else "@gif"
        messages.append(message)
    chat_object = {"name": "Anna Berg", "type": "personal_chat", "id": 1, "messages": messages}
    document = (
        {"personal_information": {"user_id": int(ME_ID)}, "chats": {"list": [chat_object]}}
        if full
        else chat_object
    )
    check("telegram", "result.json", json.dumps(document, ensure_ascii=False).encode(), chat)


# -- Discord ----------------------------------------------------------------------------------

DC_NOISE = ["bot", "interaction", "forward", "call", "pin"]


@PROPERTIES
@given(chat=events(DC_NOISE))
def test_discord(chat):
    messages = []
    for number, (when, event) in enumerate(zip(times(len(chat)), chat, strict=True)):
        author_id = "1001" if event.author == ME else str(2000 + OTHERS.index(event.author))
        message = {
            "id": str(number),
            "type": "Default",
            "timestamp": when.isoformat() + "+00:00",
            "content": event.text,
            "author": {"id": author_id, "name": event.author.lower(), "isBot": event.kind == "bot"},
        }
        if event.kind == "interaction":
            message["interaction"] = {"id": "9", "name": "tide", "user": {"id": "1001"}}
        elif event.kind == "forward":
            message.update(
                content="",
                reference={"type": "Forward", "messageId": "7"},
                forwardedMessage={"content": event.text},
            )
        elif event.kind in ("call", "pin"):
            message["type"] = {"call": "Call", "pin": "ChannelPinnedMessage"}[event.kind]
        messages.append(message)
    document = {
        "guild": {"name": "Direct Messages"},
        "channel": {"id": "5", "name": "anna"},
        "messages": messages,
    }
    check("discord", "dm.json", json.dumps(document, ensure_ascii=False).encode(), chat)


# -- Messenger and Instagram --------------------------------------------------------------------

FB_NOISE = ["reaction", "like", "attachment", "unsent", "call"]


def _mojibake(value):
    if isinstance(value, str):
        return value.encode("utf-8").decode("latin-1")
    if isinstance(value, list):
        return [_mojibake(v) for v in value]
    if isinstance(value, dict):
        return {k: _mojibake(v) for k, v in value.items()}
    return value


@PROPERTIES
@given(chat=events(FB_NOISE))
def test_messenger(chat):
    messages = []
    for when, event in zip(times(len(chat)), chat, strict=True):
        message = {
            "sender_name": event.author,
            "timestamp_ms": int(when.replace(tzinfo=timezone.utc).timestamp() * 1000),
            "content": event.text,
            "type": "Generic",
        }
        if event.kind == "reaction":
            message["content"] = "Reacted 😂 to your message "
        elif event.kind == "like":
            message["content"] = "Liked a message"
        elif event.kind == "attachment":
            message["content"] = f"{event.author} sent an attachment."
        elif event.kind == "unsent":
            message["is_unsent"] = True
        elif event.kind == "call":
            message.update(type="Call", call_duration=0)
        messages.append(message)
    document = _mojibake(
        {
            "participants": [{"name": ME}, {"name": "Anna Berg"}],
            "messages": messages[::-1],
            "title": "Anna Berg",
        }
    )
    check("messenger", "message_1.json", json.dumps(document, ensure_ascii=True).encode(), chat)


# -- Signal ---------------------------------------------------------------------------------------

SG_NOISE = ["deleted", "call"]


@PROPERTIES
@given(chat=events(SG_NOISE), quote=st.booleans())
def test_signal(chat, quote):
    rows = []
    for when, event in zip(times(len(chat)), chat, strict=True):
        rows.append(
            {
                "date": when.isoformat(),
                "sender": "Me" if event.author == ME else event.author,
                "body": event.text + "  ",
                "quote": f"\n\n> {MARKER} quoted\n\n" if quote else "",
                "deleted": event.kind == "deleted",
                "call": event.kind == "call",
            }
        )
    data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    check("signal", "Anna Berg/data.json", data, chat)


# -- Mail -----------------------------------------------------------------------------------------

MAIL_NOISE = ["spam", "draft"]
CUTS = {
    "reply": lambda prior: (
        f"\n\nOn Sat, 2 Mar 2024 at 10:00, Anna <a@x.nl> wrote:\n> {MARKER} {prior}\n"
    ),
    "outlook": lambda prior: (
        f"\n\n________________________________\nFrom: Anna <a@x.nl>\nSent: Saturday\nTo: Maren\nSubject: x\n\n{MARKER} {prior}\n"
    ),
    "forward": lambda prior: (
        f"\n\n---------- Forwarded message ---------\nFrom: x <x@y>\n\n{MARKER}\n"
    ),
    "signature": lambda prior: f"\n-- \n{MARKER} Holt\n",
    "mobile": lambda prior: f"\n\nSent from my iPhone\n{MARKER}",
    "none": lambda prior: "",
}


def _address(author: str) -> str:
    return ME_EMAIL if author == ME else f"person{OTHERS.index(author)}@example.org"


@PROPERTIES
@given(
    chat=events(MAIL_NOISE),
    cuts=st.lists(st.sampled_from(sorted(CUTS)), min_size=12, max_size=12),
    encodings=st.lists(
        st.sampled_from(["8bit", "quoted-printable", "base64", "html"]), min_size=12, max_size=12
    ),
)
def test_mail(chat, cuts, encodings):
    mails = []
    for number, (when, event) in enumerate(zip(times(len(chat)), chat, strict=True)):
        body = event.text + CUTS[cuts[number]](event.text.split("\n")[0])
        label = {"spam": "Spam", "draft": "Drafts"}.get(event.kind, "Inbox")
        headers = [
            f"From 1@xxx {when:%a %b %d %H:%M:%S +0000 %Y}",
            "X-GM-THRID: 42",
            f"X-Gmail-Labels: {label}",
            f"Message-ID: <m{number}@example.org>",
            f"Date: {when:%a, %d %b %Y %H:%M:%S} +0000",
            f"From: {event.author} <{_address(event.author)}>".encode("ascii", "ignore").decode()
            if event.author.isascii()
            else f"From: =?UTF-8?B?{base64.b64encode(event.author.encode()).decode()}?= <{_address(event.author)}>",
            "Subject: =?UTF-8?Q?Tide_=C3=A9n_koffie?=",
            "MIME-Version: 1.0",
        ]
        encoding = encodings[number]
        if encoding == "html":
            # As Gmail writes a plain message: one block, lines broken by <br>, text escaped.
            html = '<div dir="ltr">' + "<br>".join(map(escape, body.split("\n"))) + "</div>"
            headers += [
                'Content-Type: text/html; charset="UTF-8"',
                "Content-Transfer-Encoding: base64",
            ]
            payload = base64.encodebytes(html.encode()).decode()
        elif encoding == "base64":
            headers += [
                'Content-Type: text/plain; charset="UTF-8"',
                "Content-Transfer-Encoding: base64",
            ]
            payload = base64.encodebytes(body.encode()).decode()
        elif encoding == "quoted-printable":
            headers += [
                'Content-Type: text/plain; charset="UTF-8"',
                "Content-Transfer-Encoding: quoted-printable",
            ]
            payload = quopri.encodestring(body.encode()).decode()
        else:
            headers += [
                'Content-Type: text/plain; charset="UTF-8"',
                "Content-Transfer-Encoding: 8bit",
            ]
            payload = body
        payload = re.sub(r"(?m)^(>*From )", r">\1", payload)  # mboxo: as mail programs write it
        mails.append("\n".join(headers) + "\n\n" + payload.rstrip("\n") + "\n\n")
    check("mail", "All mail.mbox", "".join(mails).encode(), chat)
