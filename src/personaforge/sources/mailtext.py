"""A mail body down to the words its sender typed: quotes, headers, signatures and forwards cut.

`own_words(text)` cuts, at the first of them, everything below
- a reply header: "On Tue, 2 Jan 2024 at 10:00, Anna <anna@…> wrote:" and its
  German, French, Spanish, Dutch, Italian, Portuguese, Swedish, Polish and
  Russian forms (REPLY_HEADERS; a header wrapped over two lines is found too);
- an Outlook header block ("From: … / Sent: … / To: … / Subject: …", in the
  same languages) or an "-----Original Message-----" line;
- a forwarded block ("---------- Forwarded message ---------", "Begin
  forwarded message:" …);
- a signature: the "-- " separator line, or a client's line ("Sent from my
  iPhone", "Get Outlook for Android" …);
and drops every remaining line that starts with `>` (a quote answered inline:
the answers between the quotes stay). `html_text` reads an HTML-only body as
text, leaving out what clients mark as quoted (`<blockquote>`, Gmail's
`gmail_quote`, Thunderbird's `moz-cite-prefix`, Outlook's `divRplyFwdMsg`) and
their signature blocks.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_WROTE = (
    r"wrote|schrieb|a écrit|escribió|schreef|ha scritto|escreveu|skrev|napisał(?:\(a\))?"
    r"|написал(?:\(а\))?|kirjoitti|írta"
)
REPLY_HEADERS = [
    re.compile(p, re.I)
    for p in (
        r"^On\b.{0,250}\bwrote:\s*$",
        r"^Am\b.{0,250}\bschrieb\b.{0,250}:\s*$",
        r"^Le\b.{0,250}\ba écrit\s?:\s*$",
        r"^El\b.{0,250}\bescribió:\s*$",
        r"^Op\b.{0,250}\bschreef\b.{0,250}:\s*$",
        r"^Il (?:giorno )?.{0,250}\bha scritto:\s*$",
        r"^(?:Em|No dia)\b.{0,250}\bescreveu:\s*$",
        r"^(?:Den|On)\b.{0,250}\bskrev\b.{0,250}:\s*$",
        r"^W dniu\b.{0,250}\bnapisał(?:\(a\))?:\s*$",
        r"^.{0,250}\bнаписал(?:\(а\))?:\s*$",
        # Any language: a line that ends in someone's address and "wrote:" or a bare colon.
        rf"^.{{0,250}}<?[^<>\s]+@[^<>\s]+>?,?\s*(?:{_WROTE})?\s*:\s*$",
    )
]
_FIELD = {
    "from": r"From|Von|De|Van|Da|Från|Fra|Od|От",
    "sent": r"Sent|Date|Gesendet|Datum|Envoyé|Verzonden|Enviado|Enviada|Inviato|Data|Skickat|Sendt|Wysłano|Отправлено|Дата",
    "to": r"To|An|À|A|Aan|Para|Till|Til|Do|Кому",
    "subject": r"Subject|Betreff|Objet|Onderwerp|Asunto|Assunto|Oggetto|Ämne|Emne|Temat|Тема",
}
_OUTLOOK_FROM = re.compile(rf"^\*?(?:{_FIELD['from']})\s?:\*?\s*\S", re.I)
_OUTLOOK_REST = re.compile(
    rf"^\*?(?:{_FIELD['sent']}|{_FIELD['to']}|{_FIELD['subject']})\s?:\*?", re.I
)
_SEPARATORS = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine"
    r"|Oorspronkelijk bericht|Mensaje original|Messaggio originale|Mensagem original"
    r"|Forwarded message|Forwarded Message|Weitergeleitete Nachricht|Message transféré"
    r"|Doorgestuurd bericht|Mensaje reenviado|Messaggio inoltrato|Mensagem encaminhada)\s*-{2,}"
    r"|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:"
    r"|Début du message réexpédié\s?:|Inicio del mensaje reenviado:)\s*$",
    re.I,
)
_SIGNATURE = re.compile(r"^-- ?$")
_CLIENT_LINES = re.compile(
    r"^\s*(?:Sent from my (?:iPhone|iPad|Android|Galaxy|BlackBerry|mobile|phone)\b.*"
    r"|Sent from (?:Mail|Outlook|Yahoo Mail|my Samsung)\b.*|Get Outlook for (?:iOS|Android)\b.*"
    r"|Sent with Proton Mail\b.*|Von meinem (?:iPhone|iPad|Android|Smartphone) gesendet\b.*"
    r"|Verzonden (?:vanaf|met) (?:mijn )?(?:iPhone|iPad|Android|Outlook)\b.*"
    r"|Envoyé (?:de|depuis) mon (?:iPhone|iPad|Android|smartphone)\b.*"
    r"|Enviado desde mi (?:iPhone|iPad|Android|móvil)\b.*)\s*$",
    re.I,
)
_QUOTED = re.compile(r"^\s*>")
_UNDERSCORES = re.compile(r"^\s*_{8,}\s*$")


def _is_reply_header(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if not line or len(line) > 300:
        return False
    joined = [line]
    if index + 1 < len(lines) and lines[index + 1].strip():  # wrapped over two lines
        joined.append(line + " " + lines[index + 1].strip())
    return any(pattern.match(text) for text in joined for pattern in REPLY_HEADERS)


def _is_outlook_block(lines: list[str], index: int) -> bool:
    if not _OUTLOOK_FROM.match(lines[index].strip()):
        return False
    following = [line.strip() for line in lines[index + 1 : index + 7] if line.strip()]
    return sum(bool(_OUTLOOK_REST.match(line)) for line in following[:4]) >= 2


# What ends a mail's own words, in the order checked on each line: (kind, test).
CUTS = [
    ("quoted reply", _is_reply_header),
    ("forwarded or original message", lambda lines, i: bool(_SEPARATORS.match(lines[i]))),
    ("outlook header", _is_outlook_block),
    ("signature", lambda lines, i: bool(_SIGNATURE.match(lines[i].rstrip("\r")))),
    ("client signature", lambda lines, i: bool(_CLIENT_LINES.match(lines[i]))),
]


def own_words(text: str) -> tuple[str, list[str]]:
    """(what the sender typed, the kinds of text cut away); see the module docstring."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut_kinds: list[str] = []
    end = len(lines)
    for index in range(len(lines)):
        kind = next((k for k, test in CUTS if test(lines, index)), None)
        if kind is not None:
            cut_kinds.append(kind)
            end = index
            # An underscore rule just above an Outlook block belongs to it.
            while end > 0 and (not lines[end - 1].strip() or _UNDERSCORES.match(lines[end - 1])):
                end -= 1
            break
    kept = []
    for line in lines[:end]:
        if _QUOTED.match(line):
            if "inline quote" not in cut_kinds:
                cut_kinds.append("inline quote")
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip(), cut_kinds


# -- HTML-only mail ------------------------------------------------------------------------------

BLOCK_TAGS = {
    "p", "div", "br", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "pre", "section", "article", "header", "footer", "dd", "dt",
}  # fmt: skip
HIDDEN_TAGS = {"script", "style", "head", "title", "blockquote", "template"}
VOID_TAGS = {"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "source"}
# Containers clients put quoted text and signatures in (class or id, as they write them).
HIDDEN_MARKERS = (
    "gmail_quote",
    "gmail_signature",
    "moz-cite-prefix",
    "moz-signature",
    "divrplyfwdmsg",
    "yahoo_quoted",
    "protonmail_quote",
)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden: list[str] = []  # open tags whose contents are left out
        self.pre = 0

    def _hides(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in HIDDEN_TAGS:
            return True
        marks = " ".join(str(value or "") for name, value in attrs if name in ("class", "id"))
        return any(marker in marks.lower() for marker in HIDDEN_MARKERS)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.hidden:
            if tag not in VOID_TAGS:
                self.hidden.append(tag)
            return
        if tag not in VOID_TAGS and self._hides(tag, attrs):
            self.hidden.append(tag)
            return
        if tag in BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "pre":
            self.pre += 1

    def handle_endtag(self, tag: str) -> None:
        if self.hidden:
            if tag in self.hidden:
                while self.hidden and self.hidden.pop() != tag:
                    pass
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_text(html: str) -> str:
    """An HTML body as plain text: blocks on their own lines, quoted parts left out."""
    parser = _TextParser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # HTMLParser on markup it gives up on: what it read
        pass
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
