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
config.toml); the Telegram export and the mail name their owner.
"""

from __future__ import annotations

import base64
import json
import quopri
from datetime import datetime, timedelta, timezone

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

# (when, author, text); author None is a line WhatsApp wrote. Texts starting with LRM are
# notices iOS writes under someone's name.
Line = tuple[str, str | None, str]

INGRID: list[Line] = [
    (
        "2026-06-07T10:02:11",
        "Ingrid",
        LRM
        + "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them.",
    ),
    ("2026-06-07T10:02:11", "Ingrid", "Mamma asks if you are coming home in August"),
    ("2026-06-07T10:03:40", "Ingrid", "She already bought brunost for you, so no pressure 😄"),
    ("2026-06-07T10:31:05", ME, "Yes. First to ninth of August, booked last night."),
    (
        "2026-06-07T10:31:30",
        ME,
        "Tell her no brunost until I have run. Is that realistic? Not at all.",
    ),
    ("2026-06-07T10:33:00", "Ingrid", LRM + "image omitted"),
    ("2026-06-07T10:33:12", "Ingrid", "The fjord this morning. Come home"),
    ("2026-07-14T21:40:02", "Ingrid", "How is the tide app going? You went quiet"),
    (
        "2026-07-14T21:52:47",
        ME,
        "Decided on SQLite today. One file, no server, it just works.\nNet: fewer moving parts, more evenings free.",
    ),
    ("2026-07-14T21:53:10", "Ingrid", "I understood one word of that. Proud anyway"),
    ("2026-07-14T21:55:00", ME, LRM + "You deleted this message."),
    (
        "2026-08-09T18:20:33",
        ME,
        "Back in Rotterdam. The flat smells of nothing. Missing the fjord already.",
    ),
    (
        "2026-08-09T18:45:19",
        "Ingrid",
        "Told you. Mamma cried at the airport, don't tell her I said that",
    ),
    (
        "2026-08-09T19:02:00",
        ME,
        f"I won't. Fair enough, I cried on the train {LRM}<This message was edited>",
    ),
    ("2026-09-20T09:12:44", "Ingrid", "Exam on Thursday? Nervous?"),
    (
        "2026-09-20T09:40:10",
        ME,
        "A bit. Reading is fine, listening is the weak spot.\nTomorrow: two listening tests, then nothing.",
    ),
    (
        "2026-09-24T16:03:21",
        ME,
        "B1 done. Listening was hard, speaking went well. Is that a pass? Probably.",
    ),
    ("2026-09-24T16:04:02", "Ingrid", "🎉🎉🎉 Knew it"),
    ("2026-09-24T16:04:30", "Ingrid", LRM + "audio omitted"),
    ("2026-09-27T12:30:55", "Ingrid", "How is Delft? Send pictures of the new place"),
    (
        "2026-09-27T13:10:08",
        ME,
        "Boxes everywhere. The canal is right outside the window.\nThe bike to the station is eight minutes — better than Rotterdam.",
    ),
    ("2026-09-27T13:10:40", ME, LRM + "image omitted"),
    ("2026-10-18T14:02:19", "Ingrid", "Did you finish?? Pappa keeps refreshing the results page"),
    (
        "2026-10-18T14:20:03",
        ME,
        "Finished. 1:52. Legs gone, head fine.\nNet: the boring plan worked.",
    ),
    ("2026-10-18T14:21:00", "Ingrid", "Under two hours! Pappa says he ran faster in 1989"),
    ("2026-10-18T14:25:31", ME, "He says that every year. Next year Bergen, he can pace me."),
]

RUNNERS: list[Line] = [
    (
        "2026-06-02T07:55:00",
        None,
        "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more.",
    ),
    ("2026-06-02T07:55:00", None, 'Joost created group "Maas Runners"'),
    ("2026-06-02T07:55:00", None, "Joost added you"),
    ("2026-06-02T07:58:00", "Joost", "Welcome all. Sunday long runs from the Erasmus bridge, 8:00"),
    ("2026-06-02T08:05:00", "Lotte", "I'm in. Slow pace please, I'm new"),
    (
        "2026-06-02T08:11:00",
        ME,
        "In. Also slow. The plan says conversational pace for long runs, so we talk.",
    ),
    ("2026-06-02T08:12:00", "Joost", "<Media omitted>"),
    ("2026-07-19T19:30:00", "Lotte", "Too hot for Sunday? 31 degrees forecast"),
    ("2026-07-19T19:41:00", ME, "Start at 7 instead. Heat does not care about the plan."),
    (
        "2026-07-19T19:42:00",
        "Joost",
        "POLL:\nStart time Sunday?\nOPTION: 7:00 (3 votes)\nOPTION: 8:00 (1 vote)",
    ),
    ("2026-07-19T19:50:00", "Lotte", "null"),
    ("2026-07-19T19:51:00", "Lotte", "This message was deleted"),
    ("2026-09-13T20:02:00", "Joost", "Last long run before the taper. 18 km?"),
    (
        "2026-09-13T20:15:00",
        ME,
        "18 km, yes. Then I move house on the 26th, so my long run that week is carrying boxes.",
    ),
    ("2026-09-13T20:16:00", "Lotte", "Ha. Need help with the boxes?"),
    (
        "2026-09-13T20:20:00",
        ME,
        "Honestly, yes. Saturday morning, I bring coffee <This message was edited>",
    ),
    ("2026-10-19T09:00:00", None, "Lotte left"),
    ("2026-10-19T09:05:00", "Joost", "Results are up. Maren 1:52, nice"),
    (
        "2026-10-19T09:30:00",
        ME,
        "Thanks. Negative split, which never happens. Is it the taper? Mostly.",
    ),
]

# Telegram: (id, when, from name, text, extra fields); her user id is TELEGRAM_USER_ID.
TELEGRAM_ANNA = [
    (
        11,
        "2026-07-21T20:05:00",
        "Anna Berg",
        "Installed the Tidewatch beta. Where do I report wrong tide times?",
        {},
    ),
    (
        12,
        "2026-07-21T20:12:00",
        ME,
        "Here is fine. Station name, date, and what the official table says.",
        {},
    ),
    (
        13,
        "2026-07-21T20:12:30",
        ME,
        "Wrong in a measurable way is useful. Wrong in a vague way is not.",
        {},
    ),
    (
        14,
        "2026-07-21T20:40:00",
        "Anna Berg",
        "Vlissingen is 14 minutes late on Saturday's high water",
        {},
    ),
    (
        15,
        "2026-07-21T20:44:00",
        ME,
        "Noted. Shallow-water constituents, probably. Fix this week.",
        {},
    ),
    (
        16,
        "2026-07-21T20:45:00",
        ME,
        "Tide tables for Zeeland, season 2026",
        {"forwarded_from": "Rijkswaterstaat"},
    ),
    (
        17,
        "2026-07-21T20:46:00",
        ME,
        "",
        {
            "via_bot": "@gif",
            "media_type": "animation",
            "file": "(File not included. Change data exporting settings to download.)",
        },
    ),
    (
        18,
        "2026-08-20T18:00:00",
        "Anna Berg",
        "New version is right for Vlissingen now. Den Helder still off",
        {},
    ),
    (
        19,
        "2026-08-20T18:30:00",
        ME,
        "Den Helder is the hard one. The model is rough there — I am on it.\nTomorrow: compare a full week against the table.",
        {},
    ),
    (20, "2026-10-30T21:00:00", "Anna Berg", "Saw the v0.1 release note. Congrats!", {}),
    (
        21,
        "2026-10-30T21:10:00",
        ME,
        "Thanks. Small, offline, no accounts. Small things get finished.",
        {},
    ),
]
TELEGRAM_GROUP = [
    (
        31,
        "2026-08-02T10:00:00",
        ME,
        "Welcome to the beta. One rule: report with a station name.",
        {},
    ),
    (
        32,
        "2026-08-02T10:20:00",
        "Sofie de Wit",
        "Hoek van Holland slack water was spot on today",
        {},
    ),
    (33, "2026-08-02T10:25:00", "Jonas Vermeer", "Same for Scheveningen. Nice work", {}),
    (
        34,
        "2026-08-02T10:40:00",
        ME,
        "Good to hear. Spot on for two stations is a sample of two, so keep reporting.",
        {},
    ),
]
TELEGRAM_SAVED = [
    (
        41,
        "2026-06-30T22:10:00",
        ME,
        "Idea: slack water as a band, not a line. Uncertainty is information.",
        {},
    ),
    (
        42,
        "2026-06-30T22:12:00",
        ME,
        "Harmonic analysis explained in one chart",
        {"saved_from": "Sea Kayak Weekly"},
    ),
]

# Mail: (thread, when, from (name, address), to, labels, subject, body, html?)
MAREN_MAIL = (ME, "maren.holt@gmail.com")
PRIYA = ("Priya Raman", "priya.raman@kestrelfreight.example")
MAIL = [
    (
        "1771000000000000001",
        "2026-07-02T09:10:00",
        PRIYA,
        MAREN_MAIL,
        "Inbox,Important,Opened",
        "Routing migration estimate",
        "Hi Maren,\n\nCould you give me a number for the routing migration by Friday? Leadership wants one figure for the roadmap.\n\nThanks,\nPriya",
        False,
    ),
    (
        "1771000000000000001",
        "2026-07-03T14:20:00",
        MAREN_MAIL,
        PRIYA,
        "Sent",
        "Re: Routing migration estimate",
        "Hi Priya,\n\n10 to 14 weeks. A single number would be a guess dressed up as a plan.\n\nThe range rests on three assumptions:\n- the two undocumented consumers behave like the others\n- shadow traffic runs clean for two weeks\n- nobody moves the September freeze\n\nIf one of them breaks, I will say so the same day.\n\nMaren\n\nOn Thu, 2 Jul 2026 at 11:10, Priya Raman <priya.raman@kestrelfreight.example> wrote:\n> Hi Maren,\n>\n> Could you give me a number for the routing migration by Friday?\n\n-- \nMaren Holt\nBackend, Kestrel Freight",
        False,
    ),
    (
        "1771000000000000001",
        "2026-07-03T15:02:00",
        PRIYA,
        MAREN_MAIL,
        "Inbox,Opened",
        "RE: Routing migration estimate",
        "Works for me. I'll present the range with your assumptions.\n\nPriya\n\n________________________________\nFrom: Maren Holt <maren.holt@gmail.com>\nSent: Friday, July 3, 2026 4:20 PM\nTo: Priya Raman\nSubject: Re: Routing migration estimate\n\n10 to 14 weeks. A single number would be a guess dressed up as a plan.",
        False,
    ),
    (
        "1771000000000000002",
        "2026-09-01T08:30:00",
        ("Delftse Huurwoningen", "verhuur@delftse-huur.example"),
        MAREN_MAIL,
        "Inbox,Opened",
        "Sleuteloverdracht Oude Delft",
        "Beste mevrouw Holt,\n\nDe sleuteloverdracht is op zaterdag 26 september om 10:00. Wilt u bevestigen dat dit past?\n\nMet vriendelijke groet,\nDelftse Huurwoningen",
        False,
    ),
    (
        "1771000000000000002",
        "2026-09-01T19:45:00",
        MAREN_MAIL,
        ("Delftse Huurwoningen", "verhuur@delftse-huur.example"),
        "Sent",
        "Re: Sleuteloverdracht Oude Delft",
        '<div dir="ltr">Beste heer of mevrouw,<br><br>Zaterdag 26 september om 10:00 past goed. Ik kom met een vriendin en veel dozen.<br><br>Met vriendelijke groet,<br>Maren Holt</div><br><div class="gmail_quote"><div class="gmail_attr">Op di 1 sep 2026 om 10:30 schreef Delftse Huurwoningen &lt;verhuur@delftse-huur.example&gt;:<br></div><blockquote class="gmail_quote">De sleuteloverdracht is op zaterdag 26 september om 10:00.</blockquote></div>',
        True,
    ),
    (
        "1771000000000000003",
        "2026-09-25T07:00:00",
        ("Maas Marathon", "info@maasmarathon.example"),
        MAREN_MAIL,
        "Inbox,Category Updates",
        "Your start number for 18 October",
        "Dear runner,\n\nYour start number is 2318. Start wave C, 10:20, Erasmus bridge.\n\nSee you on the 18th!\nThe Maas Marathon team",
        False,
    ),
    (
        "1771000000000000004",
        "2026-10-05T12:00:00",
        ("Prize Office", "winner@lucky-prize.example"),
        MAREN_MAIL,
        "Spam,Category Promotions",
        "You have won a kayak",
        "Claim your free kayak today. Click the link.",
        False,
    ),
    (
        "1771000000000000005",
        "2026-10-26T20:15:00",
        ("Jonas Vermeer", "jonas@vermeer.example"),
        MAREN_MAIL,
        "Inbox,Opened",
        "Tidewatch talk at the club?",
        "Hoi Maren,\n\nWould you give a short talk about Tidewatch at the kayak club in November? Twenty minutes, coffee included.\n\nJonas",
        False,
    ),
    (
        "1771000000000000005",
        "2026-10-27T07:40:00",
        MAREN_MAIL,
        ("Jonas Vermeer", "jonas@vermeer.example"),
        "Sent",
        "Re: Tidewatch talk at the club?",
        "Hoi Jonas,\n\nYes. Twenty minutes is right: ten on how tides are predicted, ten on where the app is wrong.\nIs that a strange pitch? Maybe. It is the honest one.\n\nMaren\n\nSent from my iPhone\n\nOn Mon, 26 Oct 2026 at 21:15, Jonas Vermeer <jonas@vermeer.example> wrote:\n> Would you give a short talk about Tidewatch at the kayak club in November?",
        False,
    ),
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
