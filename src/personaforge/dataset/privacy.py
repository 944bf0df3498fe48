"""Find secrets and personal data in text, and apply a policy per kind.

Detectors are a table: a kind, a regex, and optionally a validator that cuts
false positives (Luhn for card numbers, mod-97 for IBANs, digit counts for
phone numbers). Policies (settings section `privacy`): `drop` the whole
example, `redact` the match (replaced by a `[KIND]` placeholder), or `keep`.
By default credentials are dropped and personal data is redacted, so under
the default policy nothing detected reaches a training file.

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


def phone_ok(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    # 9-15 digits (E.164 allows 15); dates and times like 2026-06-15 10:30 have separators we reject below.
    return 9 <= digits <= 15 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text.strip())


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    group: int = 0  # the part of the match that is the secret (and gets redacted)
    valid: Callable[[str], bool] | None = None


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
    # A 40-character secret right after the word "secret" (AWS secret keys and their kin).
    Detector(
        "aws_key",
        re.compile(
            r"(?i)\bsecret(?:[ _-]?(?:access)?[ _-]?key)?\b[\s:=\"']{1,4}([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
        1,
    ),
    Detector(
        "password",
        re.compile(
            r"(?i)\b(?:password|passwd|passcode|pwd|pin code)\b(?:\s+(?:is|was))?\s*[:=]?\s*[\"'“]?([^\s\"'”]{4,})"
        ),
        1,
    ),
    Detector(
        "token",
        re.compile(
            r"(?i)\b(?:api[_ -]?key|access[_ -]?token|auth[_ -]?token|bearer|client[_ -]?secret)\b\s*[:=]?\s*[\"']?([A-Za-z0-9_\-./+]{16,})"
        ),
        1,
    ),
    Detector("email", re.compile(r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b")),
    Detector(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
        valid=iban_ok,
    ),
    Detector("card", re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"), valid=luhn_ok),
    Detector(
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]\d{2,4}){1,4}(?!\w)"
        ),
        valid=phone_ok,
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


def find_secrets(text: str) -> list[Finding]:
    """Non-overlapping findings, earlier detectors winning (a key inside a password line is a key)."""
    findings: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for detector in DETECTORS:
        for match in detector.pattern.finditer(text):
            start, end = match.span(detector.group)
            value = match.group(detector.group)
            if start == end or (detector.valid and not detector.valid(value)):
                continue
            if any(start < e and s < end for s, e in taken):
                continue
            value = value.rstrip(TRAILING)
            if (
                detector.kind == "password"
                and value.lower().strip(TRAILING) in PASSWORD_FALSE_FRIENDS
            ):
                continue
            end = start + len(value)
            taken.append((start, end))
            findings.append(Finding(detector.kind, start, end, mask(value)))
    return sorted(findings, key=lambda f: f.start)


TRAILING = ".,;:!?()[]{}\"'"  # sentence punctuation that ends a match, not part of the secret
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
}


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
