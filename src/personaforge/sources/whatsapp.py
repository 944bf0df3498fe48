"""WhatsApp chat exports (`WhatsApp Chat with NAME.txt` on Android, `_chat.txt` on iOS).

One file is one chat, a message per header line, continued on the lines after it:

    Android   31/12/2024, 23:59 - Anna Berg: text             (12 h: 12/31/24, 11:59 PM - ...)
    iOS       [31/12/2024, 23:59:59] Anna Berg: text         (12 h: [12/31/24, 11:59:59 PM] ...)

Locales differ in the date (day or month first, `/`, `.` or `-`, two or four
digit years, year first in a few), the time (12 or 24 hours, `a. m.`, seconds,
Finnish `klo 14.08.18`) and the marks around them: iOS puts U+202F before AM/PM
and U+200E before every line WhatsApp wrote itself. Day or month first is
inferred from the data: a first number above 12 is a day, a second one above 12
is a day; when no number says so, the order under which the dates run forward is
taken (a chat is written in order).

Kept: each message's text, its lines joined, with the `<This message was
edited>` marker taken off. Dropped, because nobody typed them:
- system lines: on Android those without an author ("Messages and calls are
  end-to-end encrypted…", "Anna created group…"); on iOS, text that starts with
  U+200E, which WhatsApp writes before its own lines even when it credits them to
  the contact or the group ("[…] Anna Berg: ‎Messages and calls are end-to-end
  encrypted…"): such a credit is no message of Anna's, and tells that Anna is not
  the one who exported the chat;
- media, deleted, view-once, missed-call, poll and location notices (NOTICES), in
  the locales listed there, and attached-file lines ("IMG-…jpg (file attached)");
  a caption typed under an attachment is kept.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from personaforge.config import IngestSettings
from personaforge.sources.base import Parsed, Source, SourceFile, decode_text, mtime_iso
from personaforge.sources.identity import People, normal_name
from personaforge.sources.messaging import Chat, ChatMessage, memories_of

LRM = "\u200e"
_LEADING_MARKS = re.compile("^[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]+")
_SPACES = "[ \u00a0\u202f]"
_HEADER = re.compile(
    rf"^\[?(?P<date>\d{{1,4}}(?P<sep>[./-])\s?\d{{1,2}}(?P=sep)\s?\d{{1,4}})\.?,?{_SPACES}+"
    rf"(?:klo{_SPACES}+)?"  # Finnish iOS: "12.3.2022 klo 14.08.18"
    r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
    rf"(?:{_SPACES}*(?P<ampm>[ap]\.?{_SPACES}?m\.?))?"
    rf"(?:\]{_SPACES}?|{_SPACES}[-–]{_SPACES})"  # iOS "] ", Android " - "
    r"(?P<rest>.*)$",
    re.I,
)
# A name before ": " is an author unless it reads like a sentence with a quote in it
# (Android's 'Anna changed the subject from "Trip" to "Trip: day 2"' has no author).
_AUTHOR = re.compile(r"^(?P<author>[^\n:\"“”«»]{1,80}?): (?P<text>.*)$", re.S)

# Notices WhatsApp writes in place of a message, as public parsers record them (English,
# German, Dutch, Spanish, French, Portuguese, Italian). Matched against the whole message.
NOTICES: dict[str, re.Pattern[str]] = {
    "media": re.compile(
        r"^<(?:Media omitted|Medien ausgelassen|Media weggelaten|Archivo omitido"
        r"|Multimedia omitido|Médias omis|Mídia oculta|Media omessi)>$"
        r"|^(?:image|video|audio|sticker|GIF|document|Contact card) omitted$",
        re.I,
    ),
    "deleted": re.compile(
        r"^(?:This message was deleted|You deleted this message"
        r"|Diese Nachricht wurde gelöscht|Du hast diese Nachricht gelöscht"
        r"|Dit bericht is verwijderd|Je hebt dit bericht verwijderd"
        r"|Se eliminó este mensaje|Eliminaste este mensaje"
        r"|Ce message a été supprimé|Vous avez supprimé ce message"
        r"|Mensagem apagada|Você apagou esta mensagem|Questo messaggio è stato eliminato)"
        r"(?: by admin| as admin)?\.?$",
        re.I,
    ),
    # Android writes "null" where a view-once photo or voice message was: lower case only,
    # since "NULL" or "Null" alone is something a person types (a property test found it).
    "view once": re.compile(
        r"^(?:(?-i:null)|view once (?:photo|video|voice message|message)(?: omitted)?)$", re.I
    ),
    "missed call": re.compile(r"^Missed (?:voice|video|group voice|group video) call\b", re.I),
    "waiting": re.compile(r"^Waiting for this message\b", re.I),
    "poll": re.compile(r"^POLL:\s*\n", re.I),
    "location": re.compile(r"^(?:live )?location: https?://\S+$|^live location shared$", re.I),
}
# "<This message was edited>" at the end of an edited message: the edit stays, the marker goes.
_EDITED = re.compile(
    r"\s*\u200e?<(?:This message was edited|Diese Nachricht wurde bearbeitet|Dit bericht is bewerkt"
    r"|Se editó este mensaje\.?|Ce message a été modifié|Mensagem editada)>\s*$",
    re.I,
)
# One line of a message that only names an attached file (the caption after it is kept).
_ATTACHED = re.compile(
    r"^\u200e?(?:<(?:attached|Anhang|bijgevoegd|adjunto|pièce jointe|anexo): [^>\n]*>"
    r"|\S[^\n]*\((?:file attached|Datei angehängt|bestand bijgevoegd|archivo adjunto"
    r"|fichier joint|arquivo anexado|file allegato)\))$",
    re.I | re.M,
)
# iOS system lines credited to a chat member: who they are credited to did not export the chat.
_CREDITED_SYSTEM = re.compile(
    r"end-to-end encrypted|Ende-zu-Ende-verschlüsselt|end-to-end versleuteld|cifrad[oa]s? de extremo"
    r"|chiffrés de bout en bout|criptografia de ponta|created group|added you",
    re.I,
)
# Export file names around the chat's name.
_TITLE_PREFIX = re.compile(
    r"^(?:WhatsApp Chat with |WhatsApp Chat - |WhatsApp-Chat mit |WhatsApp-chat met "
    r"|Chat de WhatsApp con |Discussion WhatsApp avec |Conversa do WhatsApp com )",
    re.I,
)


@dataclass
class _Raw:
    line: int
    date: str
    time: str
    ampm: str | None
    rest: str
    more: list[str] = field(default_factory=list)


def chat_title(relative: str) -> str:
    """The chat's name from the export's file name (or its folder, for iOS `_chat.txt`)."""
    path = PurePosixPath(relative)
    name = path.stem
    if name.lower().lstrip("_") in ("chat", "chats") and len(path.parts) > 1:
        name = path.parent.name
    name = re.sub(r"\s*\(\d+\)$", "", _TITLE_PREFIX.sub("", name)).strip()
    return name or "WhatsApp chat"


def split_lines(text: str, parsed: Parsed) -> list[_Raw]:
    """Header lines with the lines that continue them; text before the first header is bad."""
    raws: list[_Raw] = []
    for number, line in enumerate(text.split("\n"), start=1):
        header = _HEADER.match(_LEADING_MARKS.sub("", line))
        if header:
            raws.append(
                _Raw(
                    number,
                    header["date"],
                    header["time"],
                    header["ampm"],
                    header["rest"],
                )
            )
        elif raws:
            raws[-1].more.append(line)
        elif line.strip():
            parsed.bad.append(f"line {number}: text before the first message")
    return raws


def _numbers(date: str) -> tuple[int, int, int]:
    a, b, c = (int(part) for part in re.split(r"[./-]\s?", date)[:3])
    return a, b, c


def _build(a: int, b: int, c: int, order: str) -> tuple[int, int, int]:
    """(year, month, day) from the three numbers read in `order` (dmy, mdy or ymd)."""
    if order == "ymd":
        year, month, day = a, b, c
    elif order == "dmy":
        day, month, year = a, b, c
    else:
        month, day, year = a, b, c
    return (year + 2000 if year < 100 else year), month, day


def date_order(dates: list[str]) -> str:
    """dmy, mdy or ymd for the chat's dates (see the module docstring)."""
    triples = [_numbers(date) for date in dates]
    if any(a > 31 for a, _, _ in triples):
        return "ymd"
    if any(a > 12 for a, _, _ in triples):
        return "dmy"
    if any(b > 12 for _, b, _ in triples):
        return "mdy"

    def backwards(order: str) -> int:
        built = [_build(*t, order) for t in triples]
        return sum(later < earlier for earlier, later in itertools.pairwise(built))

    return min(("dmy", "mdy"), key=backwards)  # a tie (one date) goes to day first


def timestamp(raw: _Raw, order: str) -> str | None:
    """The header's time as ISO 8601 (local time, as the export writes it), or None."""
    try:
        year, month, day = _build(*_numbers(raw.date), order)
        parts = [int(p) for p in re.split(r"[:.]", raw.time)]
        hour, minute, second = [*parts, 0][:3]
        if raw.ampm:
            pm = raw.ampm.lower().startswith("p")
            hour = hour % 12 + (12 if pm else 0)
        return datetime(year, month, day, hour, minute, second).isoformat()
    except ValueError:
        return None


def clean_text(text: str) -> tuple[str, str | None]:
    """(the typed text, None) or ("", the notice it is)."""
    stripped = text.strip()
    for kind, pattern in NOTICES.items():
        if pattern.match(stripped):
            return "", kind
    stripped = _EDITED.sub("", _ATTACHED.sub("", stripped)).strip()
    return stripped, None


@dataclass
class _Reader:
    """One chat being read: its messages, who is ruled out as its owner, what was dropped."""

    title: str
    people: People
    messages: list[ChatMessage] = field(default_factory=list)
    seen_at: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1

    def add(self, raw: _Raw, created_at: str) -> None:
        author_text = _AUTHOR.match(raw.rest)
        if author_text is None:
            self.drop("system")  # Android: WhatsApp's own line, credited to nobody
            return
        author = _LEADING_MARKS.sub("", author_text["author"]).strip()
        body = "\n".join([author_text["text"], *raw.more])
        if body.startswith(LRM):  # iOS: a line WhatsApp wrote, under someone's name
            if _CREDITED_SYSTEM.search(body):
                self.people.not_owner.add(normal_name(author))
                self.drop("system")
            else:
                self.drop(clean_text(body.lstrip(LRM))[1] or "notice")
            return
        text, notice = clean_text(body)
        if notice or not text:
            self.drop(notice or "empty")
            return
        order = self.seen_at.get(created_at, 0)
        self.seen_at[created_at] = order + 1
        self.messages.append(ChatMessage(f"{created_at}/{order}", author, text, created_at))


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    parsed = Parsed(people=People(key="name"))
    raws = split_lines(decode_text(file.data, cut_end=True), parsed)
    if not raws:
        return parsed
    order = date_order([raw.date for raw in raws])
    reader = _Reader(chat_title(file.relative), parsed.people)
    for raw in raws:
        created_at = timestamp(raw, order)
        if created_at is None:
            parsed.bad.append(f"line {raw.line}: no such date or time ({raw.date} {raw.time})")
            continue
        reader.add(raw, created_at)
    chat = Chat("whatsapp", reader.title, reader.title, reader.messages)
    parsed.memories = memories_of([chat], parsed.people, settings.chat_gap_hours, mtime_iso(file))
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    if not name.endswith(".txt"):
        return False
    text = head.decode("utf-8", "ignore").lstrip("\ufeff")
    first = next((line for line in text.split("\n") if line.strip()), "")
    return bool(_HEADER.match(_LEADING_MARKS.sub("", first.strip("\r"))))


SOURCE = Source(
    name="whatsapp",
    description="WhatsApp chat exports (*.txt, Android and iOS, any locale)",
    extensions=(".txt",),
    sniff=_sniff,
    parse=parse,
    messaging=True,
)
