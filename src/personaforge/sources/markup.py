"""Markdown and Obsidian markup in a note's body: what is code, and what is taken off prose.

Used by the vault source (vault.py), which says what a note becomes; this module says which
of a note's characters are the person's words.

Code is fenced, or indented four spaces (or a tab) after a blank line that no list comes
before, as CommonMark reads it; code is never rewritten and never yields tags.

Obsidian markup is taken off prose (MARKUP below says what and why): `%% comments %%` and
`<!-- -->` are hidden text and are dropped; a callout (`> [!note] Title`) keeps its title and
body without the marker and the `>`; block ids (`^abc123`) and raw HTML tags go (the text
inside a tag stays); wikilinks and embeds are rewritten as readable text
([[Target|alias]] -> alias).

Cost: a note is split into code and prose once (`split_fenced`), and the split is shared by
every markup step. A step whose pattern is found nowhere in the note costs one search of it
and no split; the note is split again only after a step that changed it, since a change can
make code (a removed tag can leave a line indented four spaces after a blank one). The split
itself jumps from fence line to fence line with `str.find`, and reads line by line only the
stretches between fences that hold an indented line of text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

ATTACHMENT_EXTENSIONS = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".svg",
    ".pdf",
    ".mp3",
    ".mp4",
    ".m4a",
    ".wav",
}

# Runs of a note: (is code, the run's text); joined, the runs are the note again.
Runs = list[tuple[bool, str]]

# -- code stays code ---------------------------------------------------------------------

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_QUOTE_MARKERS = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)+")
# A fence line read from its start: blockquote markers, then the fence. Matched at a line's
# first character, these say what `_fence_opener` and the closing test below say of the line
# (the greedy markers `_dequote` strips are the longest run of them, so no other reading of
# the markers can make a fence where `_dequote` makes none).
_OPENER_LINE = re.compile(r"(?:[ \t]{0,3}>[ \t]?)* {0,3}(`{3}|~{3})")
_CLOSER_LINE = {
    fence: re.compile(r"(?:[ \t]{0,3}>[ \t]?)*[^\S\n]*" + re.escape(fence))
    for fence in ("```", "~~~")
}
# A line indented four spaces (or a tab) that holds more than whitespace: the only kind of
# line that can open an indented code block.
_INDENTED_TEXT = re.compile(r"^(?: {4}|\t)[^\S\n]*\S", re.M)
_INDENTED = re.compile(r"^(?: {4}|\t)")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s")
_NOT_NEWLINE = re.compile(r"[^\n]")


def _dequote(line: str) -> str:
    """The line without its blockquote markers: a fence inside a quote is still a fence."""
    return _QUOTE_MARKERS.sub("", line, count=1) if ">" in line[:8] else line


def _fence_opener(line: str) -> str | None:
    opener = _FENCE.match(_dequote(line))
    return opener.group(1)[0] * 3 if opener else None


def _may_hold_code(text: str) -> bool:
    """A fence, or a line indented four spaces or a tab (an indented code block's)."""
    return (
        "```" in text
        or "~~~" in text
        or "\n    " in text
        or "\n\t" in text
        or text.startswith(("    ", "\t"))
    )


class _IndentedCode:
    """CommonMark's indented code block: lines indented four spaces (or a tab) after a blank
    line, unless a list item or a list's indented text comes before the blank line."""

    def __init__(self) -> None:
        self.open = False
        self.blank_before = True
        self.previous = ""  # the last non-blank line of prose

    def step(self, line: str) -> bool:
        """Is this line (outside fences) indented code?"""
        blank = not line.strip()
        if blank:
            code = self.open  # a blank line inside the block belongs to it
        elif _INDENTED.match(line):
            code = self.open or (
                self.blank_before
                and not (_LIST_ITEM.match(self.previous) or self.previous.startswith((" ", "\t")))
            )
        else:
            code = False
        self.open = code  # a blank line is code exactly when the block is open
        if not blank and not code:
            self.previous = line
        self.blank_before = blank
        return code


def _next_line(text: str, start: int, marks: tuple[str, ...], line: re.Pattern[str]):
    """The first line at or after `start` (a line's first character) that `line` matches from
    its first character, looked for only where one of `marks` occurs: (line start, match)."""
    hits = {mark: text.find(mark, start) for mark in marks}
    while True:
        for mark, found in hits.items():
            if 0 <= found < start:  # on a line already passed: the next one (never rescanned)
                hits[mark] = text.find(mark, start)
        found = [hit for hit in hits.values() if hit >= 0]
        if not found:
            return None
        hit = min(found)
        first = text.rfind("\n", start, hit) + 1 or start
        match = line.match(text, first)
        if match:
            return first, match
        end = text.find("\n", hit)
        if end < 0:
            return None
        start = end + 1


def _fenced_spans(text: str) -> list[tuple[int, int | None]]:
    """(first character, start of the line after) of each fenced block, in order; None when
    the block runs to the end of the text (unclosed, or closed on the last line)."""
    spans: list[tuple[int, int | None]] = []
    start = 0
    while (opener := _next_line(text, start, ("```", "~~~"), _OPENER_LINE)) is not None:
        first, match = opener
        fence = match.group(1)
        end_of_opener = text.find("\n", first)
        closer = (
            None
            if end_of_opener < 0
            else _next_line(text, end_of_opener + 1, (fence,), _CLOSER_LINE[fence])
        )
        after = None
        if closer is not None:
            end_of_closer = text.find("\n", closer[0])
            after = None if end_of_closer < 0 else end_of_closer + 1
        spans.append((first, after))
        if after is None:
            break
        start = after
    return spans


def _indented_runs(text: str, start: int, lines: list[str]) -> list[tuple[bool, int]]:
    """(is code, start) per line of a stretch between fences that begins at `start`."""
    indented = _IndentedCode()
    marks = []
    for line in lines:
        marks.append((indented.step(line), start))
        start += len(line) + 1
    return marks


def split_fenced(text: str) -> Runs:
    """The text in runs of code (True: fenced, or indented four spaces after a blank line) and
    of everything else (False).

    Joined, the runs are the text again. An unclosed fence runs to the end.
    """
    if not _may_hold_code(text):
        return [(False, text)]  # most prose holds no code: skip the scan
    # (is code, start) of each line that may begin a run; consecutive equal kinds merge below.
    marks: list[tuple[bool, int]] = []
    start: int | None = 0
    for first, after in [*_fenced_spans(text), (len(text) + 1, None)]:
        if start is None:
            break
        if first > len(text):  # the stretch after the last fence runs to the end
            stretch = text[start:]
        else:
            stretch = text[start : first - 1] if first > start else None
        if stretch is not None:
            if _may_hold_code(stretch) and _INDENTED_TEXT.search(stretch):
                marks += _indented_runs(text, start, stretch.split("\n"))
            else:
                marks.append((False, start))
        if first <= len(text):
            marks.append((True, first))
        start = after
    runs: Runs = []
    bounds: list[tuple[bool, int]] = []
    for code, begin in marks:
        if not bounds or bounds[-1][0] != code:
            bounds.append((code, begin))
    for index, (code, begin) in enumerate(bounds):
        end = bounds[index + 1][1] if index + 1 < len(bounds) else len(text)
        runs.append((code, text[begin:end]))
    return runs


def mask_code_blocks(text: str, runs: Runs | None = None) -> str:
    """The text with fenced code blocks blanked (same length, newlines kept)."""
    return "".join(
        _NOT_NEWLINE.sub(" ", chunk) if code else chunk
        for code, chunk in (runs if runs is not None else split_fenced(text))
    )


def on_prose(text: str, transform: Callable[[str], str], runs: Runs | None = None) -> str:
    """`transform` applied to the text between fenced code blocks; the blocks are left as they are.

    `runs` is `split_fenced(text)` when the caller has it already."""
    return "".join(
        chunk if code else transform(chunk)
        for code, chunk in (runs if runs is not None else split_fenced(text))
    )


# Each markup pattern is matched together with inline code, so a match starting inside inline
# code is the code (kept as it is) and never the markup.
_INLINE_CODE = r"(?P<code>`+[^`\n]*`+)"


def _outside_code(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(f"{_INLINE_CODE}|{pattern}", flags)


def _replace_outside_code(
    pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]
) -> Callable[[str], str]:
    def transform(text: str) -> str:
        return pattern.sub(lambda m: m.group("code") or replace(m), text)

    return transform


# -- Obsidian markup -------------------------------------------------------------------------

_QUOTE = re.compile(r"^[ \t]{0,3}>[ \t]?")
_CALLOUT_HEAD = re.compile(r"^[ \t]*\[![A-Za-z][\w-]*\][+-]?[ \t]*(.*)$")
_CALLOUT_LEFTOVER = re.compile(r"^((?:[ \t]{0,3}>[ \t]?)+)\[![A-Za-z][\w-]*\][+-]?[ \t]*", re.M)
# Nested callouts are unwrapped one level per pass; deeper ones (none in real vaults) keep
# their `>` but lose the marker.
MAX_CALLOUT_DEPTH = 8
HTML_BLOCK_ELEMENTS = (
    "address|article|aside|blockquote|br|center|dd|details|div|dl|dt|figcaption|figure|footer"
    "|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|summary|table|tbody|td|tfoot|th|thead|tr|ul"
)
HTML_INLINE_ELEMENTS = (
    "a|abbr|audio|b|big|cite|code|del|em|font|i|iframe|img|input|ins|kbd|label|mark|picture"
    "|q|s|small|source|span|strike|strong|sub|sup|time|u|var|video|wbr"
)


class _Markup:
    """One markup step: what it takes off prose, found where, replaced by what."""

    def __init__(
        self,
        name: str,
        triggers: tuple[str, ...],
        pattern: str,
        flags: int,
        replace: Callable[[re.Match[str]], str],
    ) -> None:
        self.name = name
        self.triggers = triggers
        # The pattern alone: no match of it anywhere in a note means no match in any of its
        # prose runs (a run is whole lines of the note), so the step changes nothing there.
        self.probe = re.compile(pattern, flags)
        self.pattern = _outside_code(pattern, flags)
        transform = _replace_outside_code(self.pattern, replace)
        self.transform = lambda text: transform(text) if self.triggered(text) else text

    def triggered(self, text: str) -> bool:
        return any(trigger in text for trigger in self.triggers)

    def applies(self, text: str) -> bool:
        # `in` is one C scan, while a pattern is tried at every position: the triggers first
        # (a 5 MB note of plain prose parses in 0.2 s instead of 5.8 s).
        return self.triggered(text) and self.probe.search(text) is not None


_BLANK_LINES = _Markup("blank-lines", ("\n\n",), r"\n[ \t]*\n(?:[ \t]*\n)+", 0, lambda m: "\n\n")
# The markup taken off prose, in order, and why. A step whose triggers are not in the text is
# skipped, and so is one whose pattern is found nowhere in it.
MARKUP = [
    # Obsidian hides %% comments %% when reading; an unclosed one hides the rest of the text.
    _Markup(
        "comment",
        ("%%", "<!--"),
        r"[ \t]*(?:%%.*?(?:%%|\Z)|<!--.*?(?:-->|\Z))",
        re.S,
        lambda m: "",
    ),
    # Scripts and styles are not text at all.
    _Markup(
        "html-hidden",
        ("<",),
        r"<(?P<hidden>script|style)\b[^>]*>.*?</(?P=hidden)\s*>",
        re.S | re.I,
        lambda m: "",
    ),
    # Block-level tags end a line of text; inline ones just go (their text stays).
    _Markup("html-block", ("<",), rf"</?(?:{HTML_BLOCK_ELEMENTS})\b[^<>]*>", re.I, lambda m: "\n"),
    _Markup("html-inline", ("<",), rf"</?(?:{HTML_INLINE_ELEMENTS})\b[^<>]*>", re.I, lambda m: ""),
    # A block id (^abc123) ends a line: an anchor for links, not words.
    _Markup("block-id", ("^",), r"(?:^|[ \t]+)\^[A-Za-z0-9-]+[ \t]*$", re.M, lambda m: ""),
    # Leftovers of removed tags: no more than one blank line in a row.
    _BLANK_LINES,
]


def unwrap_callouts(text: str) -> str:
    """Callouts as plain text: the title line (if any) and the body, without `> [!type]`."""
    if "[!" not in text:  # no callout marker: nothing to unwrap, no line to read
        return text
    for _ in range(MAX_CALLOUT_DEPTH):
        unwrapped = _unwrap_one_level(text)
        if unwrapped == text:
            break
        text = unwrapped
    return on_prose(text, lambda chunk: _CALLOUT_LEFTOVER.sub(r"\1", chunk))


def _unwrap_one_level(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        opener = _fence_opener(line)
        if fence is not None or opener:
            if fence is None:
                fence = opener
            elif _dequote(line).lstrip().startswith(fence):
                fence = None
            out.append(line)
            continue
        quote = _QUOTE.match(line)
        head = _CALLOUT_HEAD.match(line[quote.end() :]) if quote else None
        if head is None:
            out.append(line)
            continue
        if head.group(1).strip():
            out.append(head.group(1).strip())
        while index < len(lines) and (inner := _QUOTE.match(lines[index])):
            out.append(lines[index][inner.end() :])
            index += 1
    return "\n".join(out)


def _any_markup(text: str) -> bool:
    """Whether any MARKUP step may find something: the others are triggered by "%%" (or
    "<!--"), "<" or "^"; without those, only two blank lines in a row are markup."""
    return "%%" in text or "<" in text or "^" in text or _BLANK_LINES.probe.search(text) is not None


def _strip(text: str, runs: Runs) -> tuple[str, Runs]:
    """MARKUP's steps in order, each on the text the one before left, as if each split the
    text anew; the text is split again only after a step that changed it."""
    if not _any_markup(text):
        return text, runs
    for step in MARKUP:
        if step.applies(text):
            changed = on_prose(text, step.transform, runs)
            if changed != text:
                text, runs = changed, split_fenced(changed)
    return text, runs


def strip_markup(text: str) -> str:
    """Prose without comments, HTML tags and block ids; code left exactly as written."""
    return _strip(text, split_fenced(text))[0]


def clean(text: str) -> tuple[str, Runs]:
    """Callouts unwrapped and MARKUP taken off: the text and its runs (`split_fenced`)."""
    text = unwrap_callouts(text)
    return _strip(text, split_fenced(text))


# -- links and tags ----------------------------------------------------------------------------

# A wikilink or embed: (!)[[target|alias]]. Every alternative of the patterns below starts with
# a fixed character, so the regex engine skips to those characters in C instead of trying
# each alternative at every position (5x faster on a note full of links). `(!?)[[` is written
# as two alternatives, `![[` and `[[`, which match the same text at the same places.
_LINK_BODY = r"\[\[([^\]\n|]*)(?:\|([^\]\n]*))?\]\]"  # [[target|alias]]
# Inline code is `(`*...): the same as `+..., with the backtick outside the group (the engine
# looks for fixed first characters only where an alternative does not start with a group).
_LINKS = re.compile(f"`(`*[^`\\n]*`+)|!{_LINK_BODY}|{_LINK_BODY}")


def _link_text(embed: str, target: str, alias: str | None, targets: dict[str, None]) -> str:
    page, _, heading = target.partition("#")
    if page:
        targets[page] = None
    if embed:
        kind = (
            "attachment"
            if any(page.lower().endswith(ext) for ext in ATTACHMENT_EXTENSIONS)
            else "embedded note"
        )
        return f"({kind}: {page})"
    if alias:
        return alias.strip()
    if heading.startswith("^"):  # a block reference reads as its page
        heading = ""
    return f"{page} > {heading}" if page and heading else page or heading


def readable_links(text: str, runs: Runs | None = None) -> tuple[str, list[str]]:
    """Wikilinks and embeds as readable text, and the link targets; code is left alone.

    `runs` is `split_fenced(text)` when the caller has it already."""
    if "[[" not in text:
        return text, []
    targets: dict[str, None] = {}  # in order of first use, once each

    def replace(match: re.Match[str]) -> str:
        code, embedded, embed_alias, target, alias = match.groups()
        if code is not None:
            return match.group()
        if embedded is not None:
            return _link_text("!", embedded.strip(), embed_alias, targets)
        return _link_text("", target.strip(), alias, targets)

    return on_prose(text, lambda chunk: _LINKS.sub(replace, chunk), runs), list(targets)


# Regions where a '#' is never a tag, replaced by spaces before tags are looked for:
# inline code, HTML and Obsidian comments, wikilinks and embeds ([[Note#Heading]]), markdown
# link targets ([text](page#anchor)), HTML entities (&#35;), and URLs with fragments. Only the
# URL alternative starts with something other than a fixed character, so a note without "://"
# is read with the others alone (8x faster; they find the same regions where no URL can be).
_NOT_TAG = r"``*[^`\n]*`+|<!--.*?-->|%%.*?%%|!\[\[[^\]\n]*\]\]|\[\[[^\]\n]*\]\]|\]\([^)\s]*\)"
_URL = r"<?\b[a-z][a-z0-9+.-]*://[^\s>]*>?"
_NOT_TAG_REGIONS = re.compile(f"{_NOT_TAG}|{_URL}|&#?\\w+;", re.S)
_NOT_TAG_REGIONS_NO_URL = re.compile(f"{_NOT_TAG}|&#?\\w+;", re.S)
# A '#' at a line's start or after a space or opening punctuation, then the tag. Written with
# the '#' first (a negative lookbehind for the character before) so the engine jumps to '#'s.
_TAG = re.compile(r"#(?<![^\s(\[,;:!?]#)([^\s#`~!@$%^&*()=+\[\]{}|\\;:'\",.<>?]+)")


def _blank(match: re.Match[str]) -> str:
    """The match as spaces, its newlines kept."""
    found = match.group()
    return " " * len(found) if "\n" not in found else _NOT_NEWLINE.sub(" ", found)


def inline_tags(text: str, code_masked: bool = False) -> list[str]:
    """#tags in the prose, in order, without '#'; nested tags keep their slashes.

    `code_masked`: the text is a whole `mask_code_blocks` result, which masking again leaves
    as it is (its lines of text are prose lines, none a fence, none indented code), so the
    split is skipped.
    """
    if "#" not in text:
        return []
    regions = _NOT_TAG_REGIONS if "://" in text else _NOT_TAG_REGIONS_NO_URL
    masked = regions.sub(_blank, text if code_masked else mask_code_blocks(text))
    tags: dict[str, None] = {}
    for match in _TAG.finditer(masked):
        tag = match.group(1).strip("/-_")
        if tag and not tag.replace("/", "").isdigit():  # #2026 and #1 are not tags
            tags[tag] = None
    return list(tags)
