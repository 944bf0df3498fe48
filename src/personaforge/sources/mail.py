"""Mail: mbox files (Gmail Takeout's `All mail Including Spam and Trash.mbox`, Thunderbird,
Apple Mail exports) and single `.eml` messages.

Each message is read with the standard library's `email` package (policy
`default`): RFC 2047 headers ("=?UTF-8?Q?Caf=C3=A9?="), quoted-printable and
base64 bodies and their charsets are decoded there. The text/plain part is read,
or, in HTML-only mail, the HTML as text (mailtext.html_text). Of the body only
what the sender typed is kept (mailtext.own_words: quoted replies, Outlook
headers, forwarded blocks and signatures cut).

A thread is Gmail's `X-GM-THRID`, else the first message id in `References`,
else `In-Reply-To`, else the message's own id: its mails in the order sent are
one conversation, whatever the time between them (a reply two days later is
still the reply), and each mail is a turn of its own. The person's mail is
mail From one of `identity.emails`, or labelled `Sent` by Gmail
(`X-Gmail-Labels`), which names the export's owner. Drafts, spam and
Hangouts chats (labels `Draft`, `Spam`, `Chat`) are not read.
"""

from __future__ import annotations

import contextlib
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from personaforge.config import IngestSettings
from personaforge.sources.base import Parsed, SkipFile, Source, SourceFile, mtime_iso, to_iso
from personaforge.sources.identity import People, normal_email
from personaforge.sources.mailtext import html_text, own_words
from personaforge.sources.messaging import Chat, ChatMessage, memories_of

SKIP_LABELS = {"spam", "draft", "drafts", "chat", "chats"}
SENT_LABELS = {"sent", "sent mail", "sent messages"}
_FROM_LINE = re.compile(rb"(?:\A|(?<=\n))From [^\n]*\n")
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.M)
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|tr|rv|antw|réf)\s*(?:\[\d+\])?\s*:\s*)+", re.I
)
_PARSER = BytesParser(policy=policy.default)


def split_mbox(data: bytes) -> list[tuple[int, bytes]]:
    """(line number, raw message) for each message of an mbox; `>From ` lines unescaped."""
    starts = [match for match in _FROM_LINE.finditer(data)]
    messages = []
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(data)
        body = _ESCAPED_FROM.sub(rb"\1", data[match.end() : end])
        messages.append((data.count(b"\n", 0, match.start()) + 1, body))
    return messages


def header(message: EmailMessage, name: str) -> str:
    """A header as text (RFC 2047 decoded), '' when absent or unreadable."""
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError, AttributeError):
        return ""
    return str(value or "").strip()


def body_text(message: EmailMessage) -> str:
    """The text/plain body, else the HTML body as text; '' for a mail without either."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, ValueError, TypeError, AttributeError):
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError, TypeError, AttributeError, AssertionError):
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    if not isinstance(content, str):
        return ""
    return html_text(content) if part.get_content_subtype() == "html" else content


def _ids(value: str) -> list[str]:
    return re.findall(r"<([^<>\s]+)>", value) or value.split()


def thread_of(message: EmailMessage) -> str:
    """The thread a mail belongs to (see the module docstring)."""
    gmail = header(message, "X-GM-THRID")
    if gmail:
        return f"gmail:{gmail}"
    for name in ("References", "In-Reply-To", "Message-ID"):
        ids = _ids(header(message, name))
        if ids:
            return ids[0]
    return "subject:" + subject_of(message).casefold()


def subject_of(message: EmailMessage) -> str:
    return _SUBJECT_PREFIX.sub("", header(message, "Subject")).strip() or "(no subject)"


def labels_of(message: EmailMessage) -> set[str]:
    return {
        label.strip().strip('"').casefold()
        for label in header(message, "X-Gmail-Labels").split(",")
        if label.strip()
    }


def read_mail(message: EmailMessage) -> tuple[ChatMessage, str, str] | None:
    """(the mail as a chat message, its thread, its subject), or None for one not read."""
    labels = labels_of(message)
    if labels & SKIP_LABELS:
        return None
    addresses = getaddresses([header(message, "From")])
    name, address = addresses[0] if addresses else ("", "")
    when = None
    with contextlib.suppress(TypeError, ValueError, IndexError):
        when = to_iso(parsedate_to_datetime(header(message, "Date")))
    text, cut = own_words(body_text(message))
    mail_id = next(iter(_ids(header(message, "Message-ID"))), "") or f"{when}/{address}"
    extra: dict[str, Any] = {"subject": header(message, "Subject")}
    if cut:
        extra["cut"] = cut
    recipients = getaddresses([header(message, "To"), header(message, "Cc")])
    sent = ChatMessage(
        mail_id,
        name or address or "?",
        text,
        when,
        author_email=address,
        by_owner=bool(labels & SENT_LABELS),
        extra=extra,
        present=tuple((normal_email(a), n or a) for n, a in recipients if "@" in a),
    )
    return sent, thread_of(message), subject_of(message)


def _messages(file: SourceFile) -> list[tuple[int, bytes]]:
    if file.path.name.lower().endswith(".eml"):
        return [(1, file.data)]
    found = split_mbox(file.data)
    if not found:
        raise SkipFile("not an mbox file (no 'From ' line starts a message)")
    return found


def parse(file: SourceFile, settings: IngestSettings) -> Parsed:
    parsed = Parsed(people=People(key="email"))
    threads: dict[str, Chat] = {}
    for line, raw in _messages(file):
        try:
            read = read_mail(_PARSER.parsebytes(raw))
        except RecursionError:  # MIME parts nested past Python's recursion limit
            parsed.bad.append(f"message at line {line}: nested too deeply to read")
            continue
        except (ValueError, TypeError, IndexError, AttributeError, LookupError) as exc:
            parsed.bad.append(f"message at line {line}: unreadable ({type(exc).__name__})")
            continue
        if read is None:
            continue
        mail, thread, subject = read
        chat = threads.setdefault(
            thread, Chat("mail", f"mail:{thread}", subject, gap_split=False, join_runs=False)
        )
        chat.messages.append(mail)
    for chat in threads.values():
        chat.messages.sort(key=lambda m: m.created_at or "")
    parsed.memories = memories_of(
        threads.values(), parsed.people, settings.chat_gap_hours, mtime_iso(file)
    )
    return parsed


def _sniff(name: str, head: bytes) -> bool:
    if name.endswith(".eml"):
        return True
    return name.endswith(".mbox") and head.startswith(b"From ")


SOURCE = Source(
    name="mail",
    description="mail: mbox (Gmail Takeout, Thunderbird, Apple Mail) and .eml files",
    extensions=(".mbox", ".eml"),
    sniff=_sniff,
    parse=parse,
    messaging=True,
)
