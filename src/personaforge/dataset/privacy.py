"""Find secrets and personal data in text, and apply a policy per kind.

Detectors are a table: a kind, a regex, and optionally checks that cut false
positives. `valid` looks at the value (Luhn and the issuer's number length for
cards, mod-97 for IBANs, digit counts for phones, "looks generated" for
tokens); `in_context` looks at the text around it (a 16-digit number after
"order" or "tracking" is an id, not a card; "password" followed by an ordinary
word is prose, not a password). Policies (settings section `privacy`): `drop`
the whole example, `redact` the match (replaced by a `[KIND]` placeholder), or
`keep`. By default credentials are dropped and personal data is redacted, so
under the default policy nothing detected reaches a training file.

Measured on the labelled set (tests/fixtures/privacy, `bench/privacy.py`):
precision and recall per kind are in bench/RESULTS.md; recall on the sample's
planted secrets must stay 100%.

A finding never carries the secret itself, only a masked preview
(`sk-p…(56 chars)`), so the manifest and the terminal do not leak it either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Kinds that are credentials; with the default policy an example holding one is dropped.
CREDENTIALS = ("private_key", "api_key", "aws_key", "github_token", "password", "token")
PERSONAL = ("email", "phone", "card", "iban")


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rotated = compact[4:] + compact[:4]
    numeric = "".join(str(int(c, 36)) for c in rotated)
    return int(numeric) % 97 == 1


# Card issuers: (number prefixes, lengths). A Luhn-valid number outside these is an id:
# one random number in ten passes Luhn, so Luhn alone flags a tenth of all long ids.
CARD_ISSUERS: list[tuple[re.Pattern[str], range | tuple[int, ...]]] = [
    (re.compile(r"4"), (13, 16, 19)),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)"), (16,)),  # Mastercard
    (re.compile(r"3[47]"), (15,)),  # American Express
    (re.compile(r"6(?:011|4[4-9]|5)"), range(16, 20)),  # Discover
    (re.compile(r"35(?:2[89]|[3-8]\d)"), range(16, 20)),  # JCB
    (re.compile(r"3(?:0[0-5]|[68])"), range(14, 20)),  # Diners Club
    (re.compile(r"62"), range(16, 20)),  # UnionPay
]


def card_ok(number: str) -> bool:
    digits = re.sub(r"\D", "", number)
    return luhn_ok(digits) and any(
        prefix.match(digits) and len(digits) in lengths for prefix, lengths in CARD_ISSUERS
    )


def phone_ok(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    # 9-15 digits (E.164 allows 15); dates and times like 2026-06-15 10:30 are rejected below.
    return 9 <= digits <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text.strip())


# Number shapes that are not phone numbers even with 9-15 digits.
NOT_A_PHONE = re.compile(
    r"\d{1,3}(?:\.\d{1,3}){3}"  # an IPv4 address
    r"|(?:[^+(]*\d)?(?:\.\d+)+"  # only dots between the groups: versions, dates, 10.000.000
    r"|\d{1,3}(?: \d{3})+"  # thousands grouped by spaces: 1 234 567 890
    r"|.*(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}).*"  # holds a date
)


def phone_shape_ok(text: str) -> bool:
    value = text.strip()
    return phone_ok(value) and not NOT_A_PHONE.fullmatch(value)


def looks_generated(value: str) -> bool:
    """A token has digits and letters, or is long and mixed-case (base64): not a word or a path."""
    letters = any(c.isalpha() for c in value)
    if any(c.isdigit() for c in value) and letters:
        return True
    return len(value) >= 32 and any(c.isupper() for c in value) and any(c.islower() for c in value)


def aws_secret_ok(value: str) -> bool:
    """40 base64 characters with upper, lower and digits; a 40-hex git commit id is none."""
    return (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and any(c.isdigit() for c in value)
    )


# Addresses that are not a person's: retina image names (icon@2x.png), ssh remotes
# (git@github.com), service senders (noreply@...).
FILE_SUFFIXES = {"png", "jpg", "jpeg", "gif", "svg", "webp", "pdf", "js", "ts", "py", "md", "json"}
SERVICE_SENDERS = re.compile(r"(?i)^(?:git|no-?reply|do-?not-?reply|mailer-daemon)@")


def email_ok(value: str) -> bool:
    return value.rsplit(".", 1)[-1].lower() not in FILE_SUFFIXES and not SERVICE_SENDERS.match(
        value
    )


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0  # the part of the match that is the secret (and gets redacted)
    valid: Callable[[str], bool] | None = None  # on the value alone
    in_context: Callable[[re.Match[str]], bool] | None = None  # on the whole match and its text


# -- passwords ---------------------------------------------------------------------------

# Words after "password" that describe rather than disclose one.
PASSWORD_FALSE_FRIENDS = {
    "manager",
    "managers",
    "reset",
    "resets",
    "field",
    "policy",
    "protected",
    "change",
    "changes",
    "vault",
    "hint",
    "hints",
    "less",
    "strength",
    "rotation",
    "somewhere",
    "safe",
    "the",
    "for",
    "and",
    "with",
    "from",
    "none",
    "null",
    "empty",
    "required",
}
# Values that stand for a password without being one: ********, ${DB_PASSWORD}, <secret>, {{ pw }}.
_PASSWORD_STAND_IN = re.compile(r"^(?:[*•x.\-_]+|[$%<{\[(].*|changeme|example|redacted)$", re.I)
_KEYWORD = r"(?:[A-Za-z0-9]+_)*(?:password|passwd|passcode|passphrase|pin[ _-]?code|pwd)"
# keyword, then how the value is introduced: ':' or '=' (strong), 'is'/'was' or nothing
# (weak), or a short "for the club site:" phrase before a ':' (strong).
PASSWORD = re.compile(
    rf"(?i)\b(?P<keyword>{_KEYWORD})\b"
    r"(?P<sep>\s*[:=]\s*|\s+(?:is|was)\s*:?\s+|\s+(?:for|of|on|at|to)\b[^:=\n.;]{1,40}?:\s*|\s+)"
    r"(?P<quote>[\"'“]?)(?P<value>[^\s\"'”]{4,})"
)
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:(?P<value>[^\s/@]+)@", re.I)


def password_in_context(match: re.Match[str]) -> bool:
    value = match.group("value").rstrip(TRAILING)
    if value.lower() in PASSWORD_FALSE_FRIENDS or _PASSWORD_STAND_IN.match(value):
        return False
    if value.startswith(("/", "~")) or "://" in value:
        return False  # a path or a link
    strong = bool(match.group("quote")) or bool(re.search(r"[:=]", match.group("sep")))
    if match.group("keyword").lower() == "pwd" and not strong:
        return False  # `pwd` is also the shell command that prints the folder
    # Without ':' or '=' the value must look like a password, not the next word of a sentence.
    return strong or bool(re.search(r"[\d\W_]", value)) or value[1:] != value[1:].lower()


def stand_in_free(value: str) -> bool:
    return not _PASSWORD_STAND_IN.match(value)


# -- tokens after a telling keyword ----------------------------------------------------------

TOKEN = re.compile(
    r"(?i)\b(?:api[_ -]?key|access[_ -]?token|auth[_ -]?token|bearer|client[_ -]?secret)\b"
    r"(?:\s+(?:is|was)|\s+(?:for|of|on)\b[^:=\n.;]{1,40}?:)?\s*[:=]?\s*[\"']?"
    r"(?P<value>[A-Za-z0-9_\-./+]{16,})"
)

# -- cards: only where a card is meant ---------------------------------------------------------

# Words before a number that make it an id, and words that make it a card (nearest one wins).
ID_WORDS = re.compile(
    r"(?i)\b(?:order|invoice|tracking|ticket|customer|reference|ref|serial|membership|booking"
    r"|shipment|build|id|ids|no\.|nr\.?|isbn|account)\b"
)
CARD_WORDS = re.compile(
    r"(?i)\b(?:card|cards|visa|mastercard|master card|amex|american express|credit|debit|cc#?"
    r"|paid with|charged|cvc|cvv|expiry|exp)(?:\b|(?<=#))"
)
CONTEXT_CHARS = 40  # how far before the number a word still speaks about it


def card_in_context(match: re.Match[str]) -> bool:
    before = match.string[max(0, match.start() - CONTEXT_CHARS) : match.start()]
    last_id = max((m.end() for m in ID_WORDS.finditer(before)), default=-1)
    last_card = max((m.end() for m in CARD_WORDS.finditer(before)), default=-1)
    if last_id > last_card:
        return False
    grouped = bool(re.search(r"\d[ -]\d", match.group(0)))
    return last_card >= 0 or grouped


DETECTORS: list[Detector] = [
    Detector(
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----.*?(?:-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----|\Z)",
            re.S,
        ),
    ),
    # Provider keys by their published prefixes.
    Detector(
        "api_key",
        re.compile(
            r"\b(?:sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_\-]{20,}|sk_live_[A-Za-z0-9]{20,}"
            r"|AIza[0-9A-Za-z_\-]{35}|xox[abprs]-[A-Za-z0-9\-]{10,}|hf_[A-Za-z0-9]{30,})"
        ),
    ),
    Detector(
        "github_token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})\b"),
    ),
    Detector("aws_key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    # A 40-character secret right after the word "secret" (AWS secret keys and their kin),
    # also inside aws_secret_access_key.
    Detector(
        "aws_key",
        re.compile(
            r"(?i)(?:\b|_)secret(?:[ _-]?access)?(?:[ _-]?key)?\b[\s:=\"']{1,4}"
            r"(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        "value",
        valid=aws_secret_ok,
    ),
    Detector("password", URL_PASSWORD, "value", valid=stand_in_free),
    Detector("password", PASSWORD, "value", in_context=password_in_context),
    Detector("token", TOKEN, "value", valid=looks_generated),
    Detector(
        "email",
        re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"),
        valid=email_ok,
    ),
    Detector(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        valid=iban_ok,
    ),
    Detector(
        "card",
        re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
        valid=card_ok,
        in_context=card_in_context,
    ),
    Detector(
        "phone",
        re.compile(
            r"(?<![\w+.])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]\d{2,6}){1,4}(?![\w.]?\d)"
        ),
        valid=phone_shape_ok,
    ),
]
KINDS = tuple(dict.fromkeys(d.kind for d in DETECTORS))


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    preview: str  # masked: never the secret itself


def mask(secret: str) -> str:
    flat = " ".join(secret.split())
    return f"{flat[:4]}…({len(flat)} chars)"


TRAILING = ".,;:!?()[]{}\"'"  # sentence punctuation that ends a match, not part of the secret


def _accepted(detector: Detector, match: re.Match[str]) -> bool:
    value = match.group(detector.group)
    if not value or (detector.valid and not detector.valid(value.rstrip(TRAILING))):
        return False
    return detector.in_context is None or detector.in_context(match)


def find_secrets(text: str) -> list[Finding]:
    """Non-overlapping findings, earlier detectors winning (a key inside a password line is a key)."""
    findings: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for detector in DETECTORS:
        for match in detector.pattern.finditer(text):
            if not _accepted(detector, match):
                continue
            start, end = match.span(detector.group)
            value = match.group(detector.group).rstrip(TRAILING)
            end = start + len(value)
            if start == end or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            findings.append(Finding(detector.kind, start, end, mask(value)))
    return sorted(findings, key=lambda f: f.start)


def placeholder(kind: str) -> str:
    return f"[{kind.upper()}]"


def redact(text: str, findings: list[Finding]) -> str:
    for finding in sorted(findings, key=lambda f: f.start, reverse=True):
        text = text[: finding.start] + placeholder(finding.kind) + text[finding.end :]
    return text


@dataclass
class Scrubbed:
    text: str
    findings: list[Finding]
    drop: bool  # a finding's policy says drop the whole example


def scrub(text: str, policy: dict[str, str]) -> Scrubbed:
    """Apply `policy` (kind -> redact/drop/keep) to everything found in `text`."""
    findings = find_secrets(text)
    drop = any(policy.get(f.kind, "redact") == "drop" for f in findings)
    to_redact = [f for f in findings if policy.get(f.kind, "redact") == "redact"]
    return Scrubbed(redact(text, to_redact) if to_redact else text, findings, drop)


def memory_texts(memory) -> list[str]:
    """Everything of a memory that an example could carry (feedback keeps its pair in meta)."""
    extra = [memory.meta.get(key) for key in ("prompt", "chosen", "rejected", "response")]
    return [memory.text, *[text for text in extra if isinstance(text, str)]]


def scan_memories(memories, policy: dict[str, str]) -> list[dict[str, str]]:
    """One finding per secret in the selected memories, with the locator to fix the source."""
    findings = []
    for memory in memories:
        for text in memory_texts(memory):
            for finding in find_secrets(text):
                findings.append(
                    {
                        "kind": finding.kind,
                        "action": policy.get(finding.kind, "redact"),
                        "locator": memory.locator,
                        "file": memory.file_path,
                        "source": memory.source,
                        "memory_id": memory.id,
                        "preview": finding.preview,
                    }
                )
    return findings
