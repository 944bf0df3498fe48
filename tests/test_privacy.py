"""Secret and PII detectors: what they must catch, what they must leave alone, the policies."""

from __future__ import annotations

import pytest

from personaforge.dataset.privacy import find_secrets, iban_ok, luhn_ok, scrub
from personaforge.sample.planted import make_secrets

PLANTED = make_secrets(7)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"the staging key is {PLANTED['openai_key']} for now", "api_key"),
        ("anthropic sk-ant-api03-" + "a1B2c3D4" * 5, "api_key"),
        (f"Access key {PLANTED['aws_access_key']}, ok", "aws_key"),
        (f"secret {PLANTED['aws_secret_key']}. Rotate", "aws_key"),
        (f"token: {PLANTED['github_token']}", "github_token"),
        (PLANTED["private_key"], "private_key"),
        (f"router password: {PLANTED['router_password']}.", "password"),
        ("the wifi password is hunter2!", "password"),
        ("mail me at maren.holt@example.org today", "email"),
        ("call +31 6 4821 7735 after six", "phone"),
        ("or (020) 555-0143 at the office", "phone"),
        ("card 4111 1111 1111 1111 declined", "card"),
        ("paid from NL91 ABNA 0417 1643 00.", "iban"),
        ("client_secret=abcdEFGH1234ijklMNOP5678", "token"),
    ],
)
def test_detects(text, kind):
    assert kind in {finding.kind for finding in find_secrets(text)}


@pytest.mark.parametrize(
    "text",
    [
        "Ran 16 km on 2026-06-15 at 06:30, pace 5:12.",
        "Version 2.13.0 and build 1234567890 are fine.",
        "The order number 4111 1111 1111 1112 fails Luhn.",
        "Saved 10 to 14 weeks; budget 12 000 euro.",
        "Moved the key to the password manager today.",
        "Reset the password for the test account (no value written here).",
        "Issue #42 and PR 1337 merged.",
    ],
)
def test_leaves_ordinary_text_alone(text):
    assert find_secrets(text) == []


def test_checksums():
    assert luhn_ok("4111 1111 1111 1111") and not luhn_ok("4111 1111 1111 1112")
    assert iban_ok("NL91 ABNA 0417 1643 00") and not iban_ok("NL92 ABNA 0417 1643 00")


def test_policies_redact_drop_keep_and_never_show_the_secret():
    text = f"Email maren.holt@example.org, key {PLANTED['github_token']}."
    redacted = scrub(text, {"email": "redact", "github_token": "redact"})
    assert redacted.text == "Email [EMAIL], key [GITHUB_TOKEN]." and not redacted.drop
    assert scrub(text, {"email": "redact", "github_token": "drop"}).drop
    kept = scrub(text, {"email": "keep", "github_token": "keep"})
    assert kept.text == text and len(kept.findings) == 2
    assert all(PLANTED["github_token"] not in f.preview for f in kept.findings)
