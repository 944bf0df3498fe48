"""Who wrote each message: the person (speaker `self`) or someone else (`other`).

Messaging and mail parsers do not decide this themselves. They record each
message's author as the export shows it (`meta.author`, plus `meta.author_ids`
and `meta.author_email` where the format has them) and, where the export itself
says so, that the message is its owner's (`meta.by_owner`: Telegram's
`personal_information`, Signal's "Me", Gmail's Sent label). Ingest then calls
`resolve` with the `identity.*` settings: a message is the person's when the
export says so or when its author matches one of her names, addresses or ids.

An export that names no owner, read while no identity is set, cannot be split
into her words and others': `resolve` raises `NeedsIdentity` with the authors it
saw, and ingest stops with one line naming the likely owner (`likely_owner`: the
author present in every chat, never one the format credits with a notice that
only the other side gets, such as the encryption notice iOS puts under the contact).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from personaforge.config import IdentitySettings

# Marks exports put around names and numbers (WhatsApp wraps phone numbers in U+202A..U+202C
# and prefixes notices with U+200E); they are invisible, so a name never differs by them.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_ANGLE_ADDRESS = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")


def normal_name(name: str) -> str:
    """A name for comparison: invisible marks gone, NFKC, case folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", _INVISIBLE.sub("", name)).casefold().split())


def normal_email(address: str) -> str:
    found = _ANGLE_ADDRESS.search(address)
    address = found.group(1) if found else address
    return address.strip().removeprefix("mailto:").strip("<> ").casefold()


def normal_ids(value: str) -> set[str]:
    """An account id in the forms people write it: Telegram's `user123` is also `123`."""
    text = normal_name(value).removeprefix("@")
    forms = {text} if text else set()
    for prefix in ("user", "channel", "chat"):
        if text.startswith(prefix) and text[len(prefix) :].isdigit():
            forms.add(text[len(prefix) :])
    return forms


# Which setting identifies the person in each kind of author key (for the stop message).
SETTING_OF = {"name": "identity.names", "email": "identity.emails", "id": "identity.ids"}


@dataclass(frozen=True)
class Identity:
    """The `identity.*` settings, normalised for matching."""

    names: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: IdentitySettings | None) -> Identity:
        if settings is None:
            return cls()
        return cls(
            frozenset(n for n in map(normal_name, settings.names) if n),
            frozenset(e for e in map(normal_email, settings.emails) if e),
            frozenset(form for value in settings.ids for form in normal_ids(value)),
        )

    def __bool__(self) -> bool:
        return bool(self.names or self.emails or self.ids)

    def matches(self, meta: dict[str, Any], key: str) -> bool:
        """Is the author recorded in a message's meta the person, by the format's author key?

        Each format is matched on the key it identifies people by (People.key): a
        display name in a mail's From or a Discord nickname is anyone's to choose.
        """
        if key == "email":
            return normal_email(str(meta.get("author_email") or "")) in self.emails
        if key == "id":
            return any(normal_ids(str(value)) & self.ids for value in meta.get("author_ids") or ())
        return normal_name(str(meta.get("author") or "")) in self.names

    def fingerprint(self) -> str:
        """Changes when the settings change, so a chat read under other settings is read again."""
        text = "\n".join(",".join(sorted(values)) for values in (self.names, self.emails, self.ids))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class People:
    """Who wrote in one export file: what `likely_owner` needs when no identity is set."""

    key: str = "name"  # which author key identifies people in this format: name, email or id
    # chat id -> (author key value, shown as) -> messages
    chats: dict[str, Counter[tuple[str, str]]] = field(default_factory=dict)
    not_owner: set[str] = field(default_factory=set)  # key values the format rules out
    owner_known: bool = False  # the export itself marks its owner's messages

    def count(self, chat_id: str, value: str, shown: str) -> None:
        self.chats.setdefault(chat_id, Counter())[(value, shown)] += 1


def author_key(meta: dict[str, Any], key: str) -> str:
    """The normalised value of one author key, as People counts it."""
    if key == "email":
        return normal_email(str(meta.get("author_email") or ""))
    if key == "id":
        ids = [str(value) for value in meta.get("author_ids") or () if str(value)]
        return normal_name(ids[0]) if ids else ""
    return normal_name(str(meta.get("author") or ""))


class NeedsIdentity(Exception):
    """The export names no owner and no identity is set: whose messages are hers is unknown."""

    def __init__(self, people: People):
        super().__init__("no identity set")
        self.people = people


def resolve(memories: list[Any], people: People, identity: Identity) -> list[str]:
    """Set each message's speaker (self or other); returns warnings for the file.

    Raises NeedsIdentity when the export holds messages, names no owner, and no
    identity is set.
    """
    if not identity and not people.owner_known and memories:
        raise NeedsIdentity(people)
    for memory in memories:
        mine = bool(memory.meta.get("by_owner")) or identity.matches(memory.meta, people.key)
        memory.speaker = "self" if mine else "other"
    if identity and memories and not any(m.speaker == "self" for m in memories):
        authors = Counter(
            author_key(m.meta, people.key) or str(m.meta.get("author") or "?") for m in memories
        )
        shown = ", ".join(f"{name} ({n})" for name, n in authors.most_common(3))
        return [
            f"no message matched {SETTING_OF[people.key]}, so all are read as other people's "
            f"(authors here: {shown})"
        ]
    return []


@dataclass(frozen=True)
class Candidate:
    shown: str  # as the export shows the author
    value: str  # what the setting takes: the shown name, or the normalised address or id
    setting: str
    chats: int  # chats the author wrote in
    messages: int


def likely_owner(files: list[People]) -> tuple[list[Candidate], int]:
    """Authors ranked by how likely each is the owner, and the number of chats seen.

    The owner exported every chat, so she is in all of them; a format that rules
    an author out (People.not_owner) is believed; ties go to the most messages.
    """
    chats: dict[tuple[str, str], int] = Counter()
    messages: dict[tuple[str, str], int] = Counter()
    shown: dict[tuple[str, str], str] = {}
    ruled_out: set[tuple[str, str]] = set()
    total = 0
    for people in files:
        ruled_out |= {(people.key, value) for value in people.not_owner}
        for counter in people.chats.values():
            total += 1
            seen_here = set()
            for (value, display), n in counter.items():
                if not value:
                    continue
                key = (people.key, value)
                messages[key] += n
                shown.setdefault(key, display)
                seen_here.add(key)
            for key in seen_here:
                chats[key] += 1
    ranked = sorted(
        (key for key in chats if key not in ruled_out),
        key=lambda key: (-chats[key], -messages[key], shown[key]),
    )
    return [
        Candidate(
            shown[key],
            shown[key] if key[0] == "name" else key[1],
            SETTING_OF[key[0]],
            chats[key],
            messages[key],
        )
        for key in ranked
    ], total


def _suggestion(files: list[People]) -> str | None:
    """'"Maren Holt", the author in every chat (3): personaforge config set …' for one key."""
    candidates, total = likely_owner(files)
    if not candidates:
        return None
    best = candidates[0]
    alone = len(candidates) == 1 or candidates[1].chats < best.chats
    if best.chats == total and alone:
        why = f"the author in every chat ({total})"
    else:
        also = ", ".join(f'"{c.shown}" ({c.chats})' for c in candidates[1:3])
        why = f"in {best.chats} of {total} chats" + (f"; also {also}" if also else "")
    value = best.value.replace('"', "'")
    return f'"{best.shown}", {why}: personaforge config set {best.setting} "{value}"'


def stop_line(files: list[People], where: str) -> str:
    """The one line ingest stops with when exports need an identity that is not set.

    Formats that know people by different keys (names, addresses, ids) get a
    suggestion each: a name in WhatsApp says nothing about a Discord id.
    """
    head = f"whose messages are yours in {where}? No identity is set"
    suggestions = [
        found
        for key in ("name", "email", "id")
        if (found := _suggestion([people for people in files if people.key == key]))
    ]
    if not suggestions:
        return head + '; set it: personaforge config set identity.names "Your Name"'
    return f"{head}; likely " + "; and ".join(suggestions)
