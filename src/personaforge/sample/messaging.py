"""The sample person's messages and mail, in the shapes real exports have.

- `chats/whatsapp/WhatsApp Chat - Ingrid/_chat.txt`: her sister, an iOS export
  (day-first, seconds, U+200E before every line WhatsApp writes, the encryption
  notice credited to Ingrid, media, a deleted and an edited message);
- `chats/whatsapp/WhatsApp Chat with Maas Runners.txt`: a running group, an
  Android export (month-first 12-hour clock with U+202F, system lines with no
  author, `<Media omitted>`, a poll, a view-once `null`);
- `chats/telegram/DataExport_2026-10-31/result.json`: a Telegram Desktop export
  that names its owner (`personal_information`), a chat with Anna (a tester of
  her tide app), a group, Saved Messages; a forward, an inline-bot GIF, a call;
- `mail/Takeout/Mail/All mail Including Spam and Trash.mbox`: Gmail Takeout
  with Sent labels, quoted replies, a signature, an HTML-only reply, spam.

Her lines keep her voice (short sentences, "Net:", "Tomorrow:", questions she
answers herself); the others write as other people do. Dates follow the
storyline: the migration estimate in July, the move to Delft on 26 September,
the B1 exam on 24 September, the Maas half marathon on 18 October. Ingest
needs her identity for the WhatsApp chats (IDENTITY; the demo writes it into
config.toml); the Telegram export and the mail name their owner. The messages
themselves are data (data/sample/messaging.json); this file gives them the
shapes of the exports.
"""

from __future__ import annotations

import base64
import json
import quopri
from datetime import datetime, timedelta, timezone

from personaforge.sample import texts
from personaforge.sample.writer import SampleWriter

IDENTITY = {
    "names": ["Maren Holt"],
    "emails": ["maren.holt@gmail.com"],
    "ids": [],
}
ME = "Maren Holt"
LRM = "\u200e"
NNBSP = "\u202f"
TELEGRAM_USER_ID = 5120394876

# The texts are data: data/sample/messaging.json, one row per message or mail, in the
# shapes below (JSON lists; read back into tuples here).
_TEXTS = texts.load("messaging.json")

# (when, author, text); author None is a line WhatsApp wrote. Texts starting with LRM are
# notices iOS writes under someone's name.
Line = tuple[str, str | None, str]

INGRID: list[Line] = [tuple(row) for row in _TEXTS["whatsapp_ingrid"]]
RUNNERS: list[Line] = [tuple(row) for row in _TEXTS["whatsapp_runners"]]

# Telegram: (id, when, from name, text, extra fields); her user id is TELEGRAM_USER_ID.
TELEGRAM_ANNA = [tuple(row) for row in _TEXTS["telegram_anna"]]
TELEGRAM_GROUP = [tuple(row) for row in _TEXTS["telegram_group"]]
TELEGRAM_SAVED = [tuple(row) for row in _TEXTS["telegram_saved"]]

# Mail: (thread, when, from (name, address), to, labels, subject, body, html?)
MAREN_MAIL = (ME, "maren.holt@gmail.com")
PRIYA = ("Priya Raman", "priya.raman@kestrelfreight.example")
MAIL = [
    (thread, when, tuple(sender), tuple(to), labels, subject, body, html)
    for thread, when, sender, to, labels, subject, body, html in _TEXTS["mail"]
]


def _stamp(when: str) -> datetime:
    return datetime.fromisoformat(when)


# Dutch summer time ends on 25 October 2026: her local times are UTC+2 before, UTC+1 after.
SUMMER_TIME_ENDS = datetime(2026, 10, 25, 3, 0)


def _zoned(when: str) -> datetime:
    moment = _stamp(when)
    return moment.replace(tzinfo=timezone(timedelta(hours=2 if moment < SUMMER_TIME_ENDS else 1)))


def _unix(when: str) -> str:
    return str(int(_zoned(when).timestamp()))


# -- WhatsApp -----------------------------------------------------------------------------------


def whatsapp_ios(lines: list[Line]) -> str:
    """iOS: `[dd/mm/yyyy, HH:MM:SS] Name: text`, U+200E before lines WhatsApp wrote."""
    rows = []
    for when, author, text in lines:
        moment = _stamp(when)
        head = f"[{moment:%d/%m/%Y}, {moment:%H:%M:%S}]"
        mark = LRM if text.startswith(LRM) else ""
        rows.append(f"{mark}{head} {author}: {text}")
    return "\n".join(rows) + "\n"


def whatsapp_android(lines: list[Line]) -> str:
    """Android, US English: `m/d/yy, h:mm\u202fAM - Name: text`; system lines have no name."""
    rows = []
    for when, author, text in lines:
        moment = _stamp(when)
        clock = f"{moment.hour % 12 or 12}:{moment:%M}{NNBSP}{moment:%p}"
        head = f"{moment.month}/{moment.day}/{moment:%y}, {clock} - "
        rows.append(head + (f"{author}: {text}" if author else text))
    return "\n".join(rows) + "\n"


# -- Telegram -----------------------------------------------------------------------------------


def _telegram_message(number, when, name, text, extra, ids):
    message = {
        "id": number,
        "type": "message",
        "date": when,
        "date_unixtime": _unix(when),
        "from": name,
        "from_id": f"user{ids[name]}",
        **extra,
        "text": text,
        "text_entities": [{"type": "plain", "text": text}] if text else [],
    }
    return message


def telegram_export() -> dict:
    ids = {
        ME: TELEGRAM_USER_ID,
        "Anna Berg": 6011223344,
        "Sofie de Wit": 7788990022,
        "Jonas Vermeer": 7788990011,
    }

    def chat(name, kind, chat_id, rows, service=()):
        messages = [_telegram_message(*row, ids) for row in rows]
        messages += list(service)
        messages.sort(key=lambda m: m["date"])
        return {"name": name, "type": kind, "id": chat_id, "messages": messages}

    call = {
        "id": 22,
        "type": "service",
        "date": "2026-08-20T19:00:00",
        "date_unixtime": _unix("2026-08-20T19:00:00"),
        "actor": ME,
        "actor_id": f"user{TELEGRAM_USER_ID}",
        "action": "phone_call",
        "duration_seconds": 540,
        "text": "",
        "text_entities": [],
    }
    created = {
        "id": 30,
        "type": "service",
        "date": "2026-08-02T09:59:00",
        "date_unixtime": _unix("2026-08-02T09:59:00"),
        "actor": ME,
        "actor_id": f"user{TELEGRAM_USER_ID}",
        "action": "create_group",
        "title": "Tidewatch beta",
        "members": [ME, "Sofie de Wit", "Jonas Vermeer"],
        "text": "",
        "text_entities": [],
    }
    saved = chat(None, "saved_messages", TELEGRAM_USER_ID, TELEGRAM_SAVED)
    saved.pop("name")
    return {
        "about": "Here is the data you requested. Remember: Telegram is ad free, it doesn't sell your data.",
        "personal_information": {
            "about": "Meet the personal information.",
            "user_id": TELEGRAM_USER_ID,
            "first_name": "Maren",
            "last_name": "Holt",
            "phone_number": "",
            "username": "@maren_h",
            "bio": "Tides, code, sourdough",
        },
        "chats": {
            "about": "This page lists all chats from this export.",
            "list": [
                chat("Anna Berg", "personal_chat", ids["Anna Berg"], TELEGRAM_ANNA, [call]),
                chat("Tidewatch beta", "private_group", 4400112233, TELEGRAM_GROUP, [created]),
                saved,
            ],
        },
    }


# -- mail -----------------------------------------------------------------------------------------


def _address(person: tuple[str, str]) -> str:
    return f"{person[0]} <{person[1]}>"


def mbox() -> str:
    """Gmail Takeout's mbox: `From ` lines, thread ids and labels, quoted-printable or base64."""
    mails = []
    for number, (thread, when, sender, to, labels, subject, body, html) in enumerate(MAIL):
        moment = _zoned(when)
        headers = [
            f"From {thread}@xxx {moment.astimezone(timezone.utc):%a %b %d %H:%M:%S +0000 %Y}",
            f"X-GM-THRID: {thread}",
            f"X-Gmail-Labels: {labels}",
            "MIME-Version: 1.0",
            f"Date: {moment:%a, %d %b %Y %H:%M:%S %z}",
            f"Message-ID: <sample{number:02d}.{thread[-4:]}@mail.example>",
            f"Subject: {subject}",
            f"From: {_address(sender)}",
            f"To: {_address(to)}",
        ]
        if html:
            headers += [
                'Content-Type: text/html; charset="UTF-8"',
                "Content-Transfer-Encoding: base64",
            ]
            payload = base64.encodebytes(body.encode()).decode()
        else:
            headers += [
                'Content-Type: text/plain; charset="UTF-8"',
                "Content-Transfer-Encoding: quoted-printable",
            ]
            payload = quopri.encodestring(body.encode()).decode()
        mails.append("\n".join(headers) + "\n\n" + payload.rstrip("\n") + "\n\n")
    return "".join(mails)


# -- writing --------------------------------------------------------------------------------------

WHATSAPP_DIR = "chats/whatsapp"
TELEGRAM_FILE = "chats/telegram/DataExport_2026-10-31/result.json"
MAIL_FILE = "mail/Takeout/Mail/All mail Including Spam and Trash.mbox"
EXPORTED = datetime(2026, 10, 31, 20, 0)  # when she exported everything


def write_messaging(writer: SampleWriter) -> None:
    """Write the WhatsApp chats, the Telegram export and the mail (see the module docstring)."""
    writer.write(
        f"{WHATSAPP_DIR}/WhatsApp Chat - Ingrid/_chat.txt",
        whatsapp_ios(INGRID),
        "whatsapp",
        EXPORTED,
    )
    writer.write(
        f"{WHATSAPP_DIR}/WhatsApp Chat with Maas Runners.txt",
        "\ufeff" + whatsapp_android(RUNNERS),
        "whatsapp",
        EXPORTED,
    )
    writer.write(
        TELEGRAM_FILE,
        json.dumps(telegram_export(), ensure_ascii=False, indent=1),
        "telegram",
        EXPORTED,
    )
    writer.write(MAIL_FILE, mbox(), "mail", EXPORTED)
    writer.expect(
        "whatsapp: the encryption notice credited to Ingrid is not her message",
        f"{WHATSAPP_DIR}/WhatsApp Chat - Ingrid/_chat.txt",
    )
    writer.expect(
        "telegram: the forward, the inline-bot GIF and the saved post are not hers", TELEGRAM_FILE
    )
    writer.expect("mail: quoted replies, the signature and spam are not read as hers", MAIL_FILE)


def her_messages() -> list[str]:
    """Every chat message she typed, as she typed it (without WhatsApp's edit marker): tests
    check that each is read as hers, word for word."""
    typed = [t for _, a, t in INGRID + RUNNERS if a == ME and not t.startswith(LRM)]
    typed = [t.replace(f" {LRM}<This message was edited>", "") for t in typed]
    typed = [t.replace(" <This message was edited>", "") for t in typed]
    rows = TELEGRAM_ANNA + TELEGRAM_GROUP + TELEGRAM_SAVED
    return typed + [row[3] for row in rows if row[2] == ME and not row[4]]
