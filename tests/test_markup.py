"""sources/markup.py reads a note in one pass; these check it against the plain readings.

Each fast path (fence lines found with str.find, the split shared by the markup steps, the
tag and link patterns rewritten to start with fixed characters) is compared with the plain
reading it replaces, written out here line by line, on generated Markdown full of the
cases where they could part: fences in quotes, indented code after lists, tags beside
links, markup that makes code once it is taken off.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from personaforge.sources import markup
from personaforge.sources.markup import (
    MARKUP,
    _dequote,
    _fence_opener,
    _IndentedCode,
    clean,
    inline_tags,
    on_prose,
    readable_links,
    split_fenced,
    strip_markup,
    unwrap_callouts,
)

LINES = [
    "```",
    "```python",
    "~~~",
    "````",
    "> ```",
    ">> ~~~",
    "   ```",
    "    ```",
    "\t```",
    "      > ```",
    "\u00a0```",
    "    code",
    "\tcode",
    "        ",
    "- item",
    "1. item",
    "  - nested",
    "> quote",
    ">     indented in a quote",
    "> [!note] Title",
    "> [!tip]-",
    "> > [!warning] deep",
    "text",
    "",
    " ",
    "# Heading #h",
    "x ``` y",
    "<div>    indented after a tag",
    "%% hidden %%    indented after a comment",
    "[[#    h]] a link that reads as indented",
]
INLINE = [
    " word",
    " #tag",
    " #a/b",
    " #2026",
    "#x",
    " (#p)",
    " x#y",
    " `code #no`",
    " ``x``",
    " [[Note]]",
    " ![[img.png]]",
    " [[A|alias]]",
    " [[B#H]]",
    " [[C#^id]]",
    "[[]]",
    " %% c %%",
    " <!-- x -->",
    " <span>s</span>",
    " <br>",
    " ^abc-1",
    " http://x.org/#frag",
    " <https://a.b/c#d>",
    " [t](p#anchor)",
    " &#35;",
    " &amp;",
    " <script>x</script>",
    "\r",
]
line = st.builds(
    lambda head, tail: head + "".join(tail),
    st.sampled_from(LINES),
    st.lists(st.sampled_from(INLINE), max_size=3),
)
notes = st.builds(
    lambda lines, end: "\n".join(lines) + end,
    st.lists(line | st.text(max_size=6), max_size=16),
    st.sampled_from(["", "\n", "\n\n\n"]),
)


def split_line_by_line(text: str) -> list[tuple[bool, str]]:
    """Every line read in order: a fence opens and closes, indented code after a blank line."""
    runs: list[tuple[bool, list[str]]] = []
    fence = None
    indented = _IndentedCode()
    for line in text.split("\n"):
        opener = _fence_opener(line)
        in_code = fence is not None or opener is not None
        if fence is None and opener:
            fence = opener
        elif fence is not None and _dequote(line).lstrip().startswith(fence):
            fence = None
        if not in_code:
            in_code = indented.step(line)
        else:
            indented = _IndentedCode()
        if runs and runs[-1][0] == in_code:
            runs[-1][1].append(line)
        else:
            runs.append((in_code, [line]))
    last = len(runs) - 1
    return [(code, "\n".join(ls) + ("\n" if i < last else "")) for i, (code, ls) in enumerate(runs)]


def strip_step_by_step(text: str) -> str:
    """Each markup step on a text split anew, whatever the steps before did."""
    for step in MARKUP:
        if step.triggered(text):
            text = on_prose(text, step.transform)
    return text


# The tag pattern as first written: a '#' at a line's start or after a space or punctuation.
TAG_AS_WRITTEN = re.compile(
    r"(?:^|(?<=[\s(\[,;:!?]))#([^\s#`~!@$%^&*()=+\[\]{}|\\;:'\",.<>?]+)", re.M
)


@settings(max_examples=400, deadline=None)
@given(text=notes)
def test_split_fenced_reads_every_note_as_the_line_by_line_reading(text):
    runs = split_fenced(text)
    assert runs == split_line_by_line(text)
    assert "".join(chunk for _, chunk in runs) == text


@settings(max_examples=300, deadline=None)
@given(text=notes)
def test_markup_steps_sharing_one_split_equal_each_step_splitting_anew(text):
    assert strip_markup(text) == strip_step_by_step(text)
    cleaned, runs = clean(text)
    assert cleaned == strip_step_by_step(unwrap_callouts(text))
    assert runs == split_line_by_line(cleaned)


@settings(max_examples=300, deadline=None)
@given(text=notes)
def test_tags_and_links_equal_the_patterns_as_first_written(text):
    masked = markup.mask_code_blocks(text)
    assert markup.mask_code_blocks(masked) == masked  # what inline_tags(code_masked=True) skips
    assert inline_tags(masked, code_masked=True) == inline_tags(text)
    if "://" not in text:  # the pattern without URLs blanks the same regions
        assert markup._NOT_TAG_REGIONS_NO_URL.sub(
            markup._blank, masked
        ) == markup._NOT_TAG_REGIONS.sub(markup._blank, masked)
    blanked = markup._NOT_TAG_REGIONS.sub(markup._blank, masked)
    assert [m.span() for m in markup._TAG.finditer(blanked)] == [
        m.span() for m in TAG_AS_WRITTEN.finditer(blanked)
    ]
    assert [_link(m) for m in LINKS_AS_WRITTEN.finditer(text)] == [
        _link(m) for m in markup._LINKS.finditer(text)
    ]


LINKS_AS_WRITTEN = re.compile(r"(`+[^`\n]*`+)|(!?)\[\[([^\]\n|]*)(?:\|([^\]\n]*))?\]\]")


def _link(match: re.Match[str]) -> tuple:
    """(span, inline code, embed mark, target, alias) from either way of writing the pattern."""
    groups = match.groups()
    if len(groups) == 4:
        return (match.span(), *groups)
    code, embedded, embed_alias, target, alias = groups
    code = None if code is None else match.group()  # the group holds all but the first backtick
    if embedded is not None:
        return match.span(), code, "!", embedded, embed_alias
    return match.span(), code, "" if code is None else None, target, alias


def test_fast_paths_are_taken_on_the_cases_they_were_built_for():
    # A link that reads as an indented line after a blank one makes code: split again.
    text = "para\n\n[[#    h]]\n"
    assert split_fenced(readable_links(text)[0]) == [(False, "para\n\n"), (True, "    h\n")]
    # A fence in a quote, closed by a fence with a language, then an indented list item.
    text = "> ```\n> #no\n```js\n- item\n\n    #yes\n"
    assert split_fenced(text) == [(True, "> ```\n> #no\n```js\n"), (False, "- item\n\n    #yes\n")]
    assert inline_tags(text) == ["yes"]
    # An unclosed fence runs to the end, its last line too.
    assert split_fenced("a\n~~~\nb\n") == [(False, "a\n"), (True, "~~~\nb\n")]
    assert split_fenced("```\nx\n```\n") == [(True, "```\nx\n```\n"), (False, "")]
