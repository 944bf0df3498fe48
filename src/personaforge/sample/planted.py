"""Fake secrets and personal data planted in the sample data for the privacy stage to catch.

Every value is fabricated. Formats are realistic (prefixes, lengths, a valid
IBAN checksum, a Luhn-valid test card number) so detectors are tested on what
they will meet in real vaults. Tokens are generated from a seeded RNG rather
than written out, which also keeps secret scanners from flagging this source.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass


@dataclass(frozen=True)
class PlantedSecret:
    kind: str  # api_key, aws_key, github_token, private_key, password, email, phone, iban, card
    value: str  # the exact text planted
    where: str  # sample-relative path of the file that holds it


def _token(
    rng: random.Random, length: int, alphabet: str = string.ascii_letters + string.digits
) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def make_secrets(seed: int) -> dict[str, str]:
    """The planted values, keyed by name; the same seed gives the same values."""
    rng = random.Random(seed)
    key_lines = [_token(rng, 70, string.ascii_letters + string.digits + "+/") for _ in range(5)]
    return {
        "openai_key": "sk-proj-" + _token(rng, 48, string.ascii_letters + string.digits + "_-"),
        "aws_access_key": "AKIA" + _token(rng, 16, string.ascii_uppercase + string.digits),
        "aws_secret_key": _token(rng, 40, string.ascii_letters + string.digits + "/+"),
        "github_token": "ghp_" + _token(rng, 36),
        "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        + "\n".join(key_lines)
        + "\n-----END OPENSSH PRIVATE KEY-----",
        "router_password": "Fjord-Lantern-" + str(rng.randint(10, 99)),
        "email": "maren.holt@example.org",
        "sister_email": "ingrid.holt@example.net",
        "phone": "+31 6 4821 7735",
        "sister_phone": "+47 912 34 567",
        # The IBAN below is the standard published example (valid checksum, no real account).
        "iban": "NL91 ABNA 0417 1643 00",
        # 4111... is the card networks' public test number (passes the Luhn check).
        "card": "4111 1111 1111 1111",
        # Drawn last, so adding it left every value above unchanged (a later month plants it).
        "flat_wifi_password": "Gracht-Lantaarn-" + str(rng.randint(10, 99)),
    }
