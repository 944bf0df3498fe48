"""The deterministic extractor: facts from the memory store by patterns, offline.

Five kinds of rule, each a table or a small function, all reading only what
the person wrote (speaker `self`):

1. statement rules: first-person sentences with a fixed shape ("I live in X",
   "Moved to X", "I'm from X", "my sister X", "X is my starter", "the B1 exam
   on 24 September"), each with the slot it fills and its tense;
2. answers: the person's own answers to questions about themselves (preference
   pairs' chosen replies and responses they rated 4 or 5), matched by question;
3. note structure: project, decision, people and area notes (by folder or tag),
   series of dated notes (a weekly review every Sunday), `#work/<org>` tags and
   frequent topic tags;
4. the dataset stage's knowledge patterns (extract.KNOWLEDGE_PATTERNS): opinion,
   preference, habit and decision sentences, quoted in the person's words;
5. mentions: a project, person or interest found by rules 1-3 gathers every
   memory that names it, so its support and dates say how present it is.

No rule guesses: a value must be written in the memory it cites. Names pass a
stop list so that "Today" or "Monday" never becomes a person or a place.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import PurePosixPath

from personaforge.dataset.extract import KNOWLEDGE_PATTERNS, SENTENCE
from personaforge.profile.facts import ANSWERED, Candidate, normalise
from personaforge.profile.words import (
    CONTEXT_TAGS,
    EDITORS,
    EVENT_NOUNS,
    IS_MY_SLOTS,
    MONTHS,
    NOT_NAMES,
    NOT_THINGS,
    ROLES,
    WEEKDAYS,
)
from personaforge.store import Memory

PLACE = r"[A-Z][\w'\-]+(?: [A-Z][\w'\-]+){0,2}"
NAME = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
ROLE = "|".join(sorted((re.escape(r) for r in ROLES), key=len, reverse=True))
DAY_MONTH = rf"(?P<day>\d{{1,2}}) (?P<month>{'|'.join(MONTHS)})"


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("PLACE", PLACE).replace("NAME", NAME).replace("ROLE", ROLE))


# (rule name, slot key, pattern with a `value` group, tense). Sentences are tried as
# written; a diary drops its subject ("Moved to Delft today."), so some rules allow that.
STATEMENT_RULES: list[tuple[str, str, re.Pattern[str], str]] = [
    (
        "lives-in",
        "home_city",
        _rule(r"\b(?:I|we) (?:now |still |currently )?live in (?P<value>PLACE)"),
        "current",
    ),
    (
        "have-lived-in",
        "home_city",
        _rule(r"\b(?:I|we)(?:'ve| have) (?:lived|been living) in (?P<value>PLACE)"),
        "current",
    ),
    (
        "living-in",
        "home_city",
        _rule(
            r"\b(?:I'm|I am|we're|we are|days?|weeks?|months?|years?) (?:now |still )?living in (?P<value>PLACE)"
        ),
        "current",
    ),
    (
        "moved-to",
        "home_city",
        _rule(
            r"(?:^|\b(?:I|we) (?:have |just |finally )?)[Mm]oved (?:from PLACE )?to (?P<value>PLACE)"
        ),
        "current",
    ),
    ("lived-in", "home_city", _rule(r"\b(?:I|we) lived in (?P<value>PLACE)"), "past"),
    ("moved-from", "home_city", _rule(r"\b[Mm]oved (?:away )?from (?P<value>PLACE)"), "past"),
    (
        "from",
        "hometown",
        _rule(r"\b(?:I'm|I am|I come) (?:originally )?from (?P<value>PLACE)"),
        "current",
    ),
    ("grew-up", "hometown", _rule(r"\bI (?:grew up|was born) in (?P<value>PLACE)"), "current"),
    ("works-at", "employer", _rule(r"\bI (?:now )?work (?:at|for) (?P<value>PLACE)"), "current"),
    ("left-job", "employer", _rule(r"\bI (?:left|quit) my job at (?P<value>PLACE)"), "past"),
    (
        "role",
        "role",
        _rule(
            r"\b(?:I'm|I am|I work as) an? (?P<value>(?:[a-z\-]+ ){0,3}(?:engineer|developer|designer|"
            r"manager|scientist|researcher|teacher|nurse|doctor|writer|analyst|consultant|architect|"
            r"student|lawyer|accountant|founder))\b"
        ),
        "current",
    ),
    (
        "learning",
        "learning",
        _rule(r"\b(?:I'm|I am) (?:learning|studying) (?P<value>NAME)"),
        "current",
    ),
    (
        "building",
        "project",
        _rule(r"\b(?:I'm|I am) (?:building|making|developing) (?P<value>[^.,;:!?]{3,60})"),
        "current",
    ),
    (
        "uses",
        "tool",
        _rule(r"\bI (?:use|switched to|write in) (?P<value>[A-Z][\w.+#\-]+)"),
        "current",
    ),
    (
        "decided",
        "decision",
        _rule(r"(?:^|\bI )(?:[Dd]ecided|[Ss]ettled on)(?::| on) (?P<value>[A-Z][^.;!?]{2,60})"),
        "current",
    ),
    (
        "starts-the-day",
        "habit",
        _rule(
            r"\bI (?:always |usually )?(?:start|begin) (?:the|my) day with (?P<value>[^.;!?]{3,60})"
        ),
        "current",
    ),
]
NAMED_SLOTS = {"home_city", "hometown", "employer", "learning", "tool"}  # values that are names
LEADS_TEAM = _rule(r"\b(?P<value>NAME), who (?:leads|runs|manages) (?:the|our|my) (?P<sub>team)\b")
# (rule, pattern with `value` and `sub`, the role per `sub`): "Priya, who leads the team"...
RELATION_RULES: list[tuple[str, re.Pattern[str], dict[str, str]]] = [
    (
        "my-role-name",
        _rule(r"\b[Mm]y (?P<sub>ROLE),? (?:is |called |named )?(?P<value>NAME)\b"),
        ROLES,
    ),
    ("name-my-role", _rule(r"\b(?P<value>NAME),? (?:is )?(?:my|our) (?P<sub>ROLE)\b"), ROLES),
    ("leads-team", LEADS_TEAM, {"team": "team lead"}),
]
IS_MY = _rule(r"\b(?P<value>NAME) is my (?P<sub>[a-z]{3,20})\b")
# Capitalised words before the noun name the event ("the Maas half marathon", "the Dutch
# B1 exam"); the noun itself may open the sentence ("Half marathon on 18 October.").
EVENT = re.compile(
    rf"(?P<value>(?:[A-Z0-9][\w'\-]* )*(?i:{EVENT_NOUNS}))(?: is| was)? (?:on|for) "
    rf"(?:the )?{DAY_MONTH}\b"
)

# Questions about the person (asked in a correction or a rating) and the slot the answer fills.
# "name": the answer's leading name ("Bergen. Rotterdam for six years now." -> Bergen);
# "phrase": the answer's first sentence ("Morning pages at 6:30 with tea.").
QUESTIONS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"\bwhere (?:are you|do you come) from\b", re.I), "hometown", "name"),
    (re.compile(r"\bwhere do you live\b", re.I), "home_city", "name"),
    (re.compile(r"\b(?:where|who) do you work\b", re.I), "employer", "name"),
    (
        re.compile(r"\bwhat (?:do you do for (?:a living|work)|is your job)\b", re.I),
        "role",
        "phrase",
    ),
    (re.compile(r"\bwhat (?:text |code )?editor\b", re.I), "editor", "name"),
    (
        re.compile(r"\bhow do you (?:start|begin) (?:your|the) day\b|\bmorning routine\b", re.I),
        "habit",
        "phrase",
    ),
    (re.compile(r"\bwhat are you (?:working on|building)\b", re.I), "project", "name"),
    (re.compile(r"\bwhat is your favou?rite (?P<sub>[a-z]+)\b", re.I), "favourite", "name"),
]
# Questions that ask for a view: the person's chosen answer is an opinion in their words.
OPINION_QUESTION = re.compile(
    r"^(?:do you (?:like|think)|what do you think|how (?:big|long|often|should)|should\b|"
    r"what should|why do you|what do you tell)",
    re.I,
)
MIN_RATING = 4  # a rated response below this is not the person's answer
KNOWLEDGE_KEYS = {
    "opinion": "opinion",
    "preference": "preference",
    "habit": "habit_statement",
    "decision": "decision_statement",
}
PAST_HABIT = re.compile(
    r"\bI (?:always|usually|never|often) (?:\w+ed|did|had|was|went|made|got|took|said|knew|thought)\b"
)
MIN_TAG_MEMORIES = 5  # a topic tag on fewer memories is a passing mention, not an interest
MIN_SERIES = 4  # dated notes sharing a name: four make a routine
SAME_WEEKDAY_SHARE = 0.75  # "every Sunday" when at least this share fall on one weekday
MIN_DAILY_NOTES = 20
MIN_DAILY_SHARE = 0.3  # a daily journal: notes on at least this share of the days it spans
DAY_TITLE = re.compile(r"\d{4}-\d{2}-\d{2}")
SERIES_DATE = re.compile(r"\s*\b\d{4}-(?:W\d{2}|\d{2}(?:-\d{2})?)\b\s*")

# -- text ---------------------------------------------------------------------------------------

CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
TAG = re.compile(r"(?<![\w#&])#[A-Za-z][\w/\-]*")
URL = re.compile(r"https?://\S+")


def sentences(text: str) -> list[str]:
    """The prose sentences of a memory: no code, headings, tags or URLs."""
    clean = URL.sub(" ", CODE.sub(" ", text))
    found = []
    for line in clean.split("\n"):
        line = line.strip()
        if not line or line.startswith(("#", "---", "|", ">")):
            continue
        line = TAG.sub("", re.sub(r"^(?:[-*+]|\d+\.)\s+(?:\[.\]\s+)?", "", line))
        found += [" ".join(s.split()) for s in SENTENCE.split(line) if s.strip()]
    return found


def own_sentences(memory: Memory) -> list[str]:
    """A memory's sentences, without a wikilink's text left at the start of the next sentence.

    The vault reader turns `... in form. [[Sourdough]] I think ...` into `Sourdough I think
    ...`; the link is not part of what the person said next.
    """
    links = [str(link) for link in memory.meta.get("links") or []]
    found = []
    for sentence in sentences(memory.text):
        for link in links:
            rest = sentence[len(link) + 1 :]
            if sentence.startswith(link + " ") and rest[:1].isupper():
                sentence = rest
                break
        found.append(sentence)
    return found


def first_sentence(text: str) -> str:
    parts = sentences(text)
    return parts[0].rstrip(".!") if parts else ""


def is_name(value: str) -> bool:
    return bool(value) and value.split()[0] not in NOT_NAMES and not value.isupper()


def leading_name(sentence: str) -> str:
    """'Neovim. Boring, fast, mine.' -> 'Neovim'; 'SQLite, for most small tools' -> 'SQLite'."""
    words = []
    for word in sentence.split():
        word = word.strip(".,;:!?")
        if not word or not word[0].isupper():
            break
        words.append(word)
        if len(words) == 3:
            break
    value = " ".join(words)
    return value if is_name(value) else ""


def the_persons(memories: list[Memory]) -> list[Memory]:
    """What the person wrote themselves; corrections are read by the answer rules only."""
    return [m for m in memories if m.speaker == "self" and m.mode != "feedback"]


def folders(memory: Memory) -> set[str]:
    path = memory.meta.get("path") or ""
    return {part.casefold() for part in PurePosixPath(path).parts[:-1]}


def tag_roots(memory: Memory) -> set[str]:
    return {t.split("/")[0].casefold() for t in memory.tags}


def note_title(memory: Memory) -> str:
    return str(memory.meta.get("note") or memory.title.split(" > ")[0]).strip()


def heading(memory: Memory) -> str:
    """The note's own '# Title' line, which may say more than a file named 2026-W23."""
    match = re.match(r"#[ \t]+([^\n]+)", memory.text)
    return match.group(1).strip() if match else note_title(memory)


def is_daily(memory: Memory) -> bool:
    """A daily note: dated by its file name or folders, or titled with a bare date.

    (extract.is_daily also counts 2026-W41 week notes; a routine needs them apart.)
    """
    return memory.meta.get("date_from") in ("filename", "folders") or bool(
        DAY_TITLE.fullmatch(note_title(memory))
    )


# -- 1. statement rules ----------------------------------------------------------------------------


def statement_candidates(memories: list[Memory]) -> Iterator[Candidate]:
    for memory in the_persons(memories):
        for sentence in own_sentences(memory):
            yield from _statements_in(sentence, memory)


def _statements_in(sentence: str, memory: Memory) -> Iterator[Candidate]:
    for name, key, pattern, tense in STATEMENT_RULES:
        for match in pattern.finditer(sentence):
            value = match.group("value").strip()
            if key in NAMED_SLOTS and not is_name(value):
                continue
            if key == "tool" and value.casefold() in EDITORS:
                key = "editor"
            yield Candidate(key, value, memory, sentence, f"rules:{name}", tense)
    for name, pattern, roles in RELATION_RULES:
        for match in pattern.finditer(sentence):
            if is_name(match.group("value")):
                role = roles[match.group("sub").lower()]
                yield Candidate(
                    f"relationship:{role}", match.group("value"), memory, sentence, f"rules:{name}"
                )
    for match in IS_MY.finditer(sentence):
        thing, value = match.group("sub"), match.group("value")
        if not is_name(value) or thing in NOT_THINGS or thing in ROLES:
            continue
        key = IS_MY_SLOTS.get(thing, f"named:{thing}")
        yield Candidate(key, value, memory, sentence, "rules:is-my")
    for match in EVENT.finditer(sentence):
        yield Candidate("event", _event_value(match, memory), memory, sentence, "rules:event")


def _event_value(match: re.Match[str], memory: Memory) -> str:
    name = re.sub(r"^(?:The|A|An) ", "", match.group("value").strip())
    name = name[:1].upper() + name[1:]
    month = next(m for m in MONTHS if m.lower() == match.group("month").lower())
    return f"{name} on {int(match.group('day'))} {month} {memory.created_at[:4]}"


def unify_events(candidates: list[Candidate]) -> list[Candidate]:
    """'Half marathon on 18 October' and 'Maas half marathon on 18 October' are one event."""
    by_day: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in candidates:
        if candidate.key == "event":
            name, _, day = candidate.value.partition(" on ")
            by_day.setdefault((day, name.split()[-1].lower()), []).append(candidate)
    for group in by_day.values():
        longest = max((c.value for c in group), key=len)
        for candidate in group:
            candidate.value = longest
    return candidates


# -- 2. answers to questions about the person ----------------------------------------------------------


def answered(memory: Memory) -> tuple[str, str] | None:
    """(question, the person's answer) for a correction or a well-rated response, else None."""
    if memory.mode != "feedback" or not isinstance(memory.meta.get("prompt"), str):
        return None
    kind = memory.meta.get("kind")
    if kind == "preference":
        answer = memory.meta.get("chosen")
    elif kind == "rating" and (memory.meta.get("rating") or 0) >= MIN_RATING:
        answer = memory.meta.get("response")
    else:
        return None
    return (memory.meta["prompt"], answer) if isinstance(answer, str) else None


def answer_candidates(memories: list[Memory]) -> Iterator[Candidate]:
    for memory in memories:
        pair = answered(memory)
        if pair is None:
            continue
        question, answer = pair
        first = first_sentence(answer)
        for pattern, key, mode in QUESTIONS:
            match = pattern.search(question)
            if not match or not first:
                continue
            value = leading_name(first) if mode == "name" else first
            if "sub" in match.groupdict():
                key = f"{key}:{match.group('sub').lower()}"
            if value:
                yield Candidate(key, value, memory, f"{question} — {first}.", ANSWERED)
        if OPINION_QUESTION.search(question):
            view = " ".join(sentences(answer)[:2])
            if len(view.split()) >= 4:
                yield Candidate("opinion", view, memory, f"{question} — {view}", ANSWERED)


# -- 3. note structure -------------------------------------------------------------------------------


def _note_kind(memory: Memory) -> str | None:
    where, tags = folders(memory), tag_roots(memory)
    if is_daily(memory):
        return None
    if "projects" in where or "project" in tags:
        return "project"
    if "decisions" in where or "decision" in tags:
        return "decision"
    if "people" in where or tags & {"people", "person"}:
        return "person"
    if "areas" in where or "area" in tags:
        return "area"
    return None


def note_candidates(memories: list[Memory]) -> Iterator[Candidate]:
    seen: set[str] = set()
    for memory in the_persons(memories):
        text = " ".join(memory.text.split())
        if memory.source != "vault" or text in seen:  # an exact copy names no new thing
            continue
        seen.add(text)
        kind, title = _note_kind(memory), note_title(memory)
        first = first_sentence(memory.text)
        quote = f"note “{title}”" + (f": {first}" if first else "")
        quote += "" if quote.endswith(("?", "!")) else "."
        if kind == "project":
            yield Candidate("project", title, memory, quote, "rules:project-note")
        elif kind == "decision":
            yield Candidate(
                "decision",
                SERIES_DATE.sub(" ", title).strip(),
                memory,
                quote,
                "rules:decision-note",
            )
        elif kind == "person":
            role = re.match(rf"[Mm]y ({ROLE})\b", first)
            sub = ROLES[role.group(1).lower()] if role else "person"
            yield Candidate(f"relationship:{sub}", title, memory, quote, "rules:people-note")
        elif kind == "area":
            learning = re.fullmatch(r"(?:Learning|Studying) (.+)", title)
            key, value = ("learning", learning.group(1)) if learning else ("interest", title)
            yield Candidate(key, value, memory, quote, "rules:area-note")


def tag_candidates(memories: list[Memory], exclude: set[str]) -> Iterator[Candidate]:
    """`#work/<org>` names the employer; a topic tag on enough memories is an interest.

    `exclude`: normalised names already known as a project, employer or language,
    so `#tidewatch` does not also become an interest.
    """
    tagged: dict[str, list[Memory]] = {}
    orgs: set[str] = set()
    for memory in the_persons(memories):
        for tag in memory.tags:
            root, _, rest = tag.casefold().partition("/")
            if root == "work" and rest:
                org = rest.split("/")[0]
                orgs.add(org)
                value = org.replace("-", " ").title()
                yield Candidate("employer", value, memory, f"tagged #{tag}", "rules:work-tag")
            tagged.setdefault(root, []).append(memory)
    for root, group in sorted(tagged.items()):
        distinct = {" ".join(m.text.split()) for m in group}
        if (
            root in CONTEXT_TAGS
            or root in orgs
            or normalise(root) in exclude
            or len(distinct) < MIN_TAG_MEMORIES
        ):
            continue
        for memory in group:
            yield Candidate(
                "interest", root.replace("-", " "), memory, f"tagged #{root}", "rules:topic-tag"
            )


def series_candidates(memories: list[Memory]) -> Iterator[Candidate]:
    """Routines from dated notes: a daily journal, a weekly review every Sunday."""
    notes = [m for m in the_persons(memories) if m.source == "vault"]
    daily = {m.created_at[:10]: m for m in notes if is_daily(m)}
    if len(daily) >= MIN_DAILY_NOTES:
        first, last = date.fromisoformat(min(daily)), date.fromisoformat(max(daily))
        span = (last - first).days + 1
        if len(daily) / span >= MIN_DAILY_SHARE:
            quote = f"{len(daily)} daily notes over {span} days ({first} to {last})"
            for memory in daily.values():
                yield Candidate("habit", "Daily journal", memory, quote, "rules:series")
    series: dict[str, dict[str, Memory]] = {}
    for memory in notes:
        title = note_title(memory)
        stem = SERIES_DATE.sub(" ", heading(memory)).strip(" -:")
        dated = SERIES_DATE.search(title) or SERIES_DATE.search(heading(memory))
        if stem and dated and not is_daily(memory):
            series.setdefault(stem, {})[title] = memory
    for stem, members in sorted(series.items()):
        if len(members) < MIN_SERIES:
            continue
        days = [date.fromisoformat(m.created_at[:10]) for m in members.values()]
        weekday, count = Counter(d.weekday() for d in days).most_common(1)[0]
        if count / len(days) >= SAME_WEEKDAY_SHARE:
            value = f"{stem}, every {WEEKDAYS[weekday]}"
        else:
            ordered = sorted(days)
            gaps = sorted((b - a).days for a, b in itertools.pairwise(ordered))
            value = f"{stem}, about every {max(gaps[len(gaps) // 2], 1)} days"
        quote = f"{len(days)} notes named “{stem} …” from {min(days)} to {max(days)}"
        for memory in members.values():
            yield Candidate("habit", value, memory, quote, "rules:series")


# -- 4. the dataset stage's knowledge patterns -----------------------------------------------------------


def knowledge_candidates(memories: list[Memory]) -> Iterator[Candidate]:
    for memory in the_persons(memories):
        for sentence in own_sentences(memory):
            words = len(sentence.split())
            if not 5 <= words <= 40 or sentence.endswith("?"):
                continue
            for category, pattern, _questions in KNOWLEDGE_PATTERNS:
                key = KNOWLEDGE_KEYS.get(category)
                if key == "habit_statement" and PAST_HABIT.search(sentence):
                    continue  # "I never explained" reports a day; a habit is in the present
                if key and pattern.search(sentence):
                    yield Candidate(key, sentence, memory, sentence, f"rules:knowledge-{category}")
                    break


# -- 5. mentions and aliases -------------------------------------------------------------------------------

MENTIONED = ("project", "relationship", "named", "interest", "learning")
ALIASED = ("project", "interest", "learning")


def aliases(memories: list[Memory]) -> dict[str, str]:
    """Normalised alias or title -> the note title (Obsidian `aliases:` frontmatter)."""
    found: dict[str, str] = {}
    for memory in memories:
        if memory.source != "vault":
            continue
        title = note_title(memory)
        for alias in memory.meta.get("aliases") or []:
            found.setdefault(normalise(str(alias)), title)
    return found


def resolve_aliases(candidates: list[Candidate], known: dict[str, str]) -> None:
    """'a tide app for kayakers' -> 'Tidewatch' when a note calls itself 'tide app'."""
    for candidate in candidates:
        if candidate.key.split(":")[0] not in ALIASED:
            continue
        value = normalise(candidate.value)
        for alias, title in known.items():
            if value == alias or (re.search(rf"\b{re.escape(alias)}\b", value) and len(alias) > 3):
                candidate.value = title
                break


def mention_candidates(memories: list[Memory], found: list[Candidate]) -> Iterator[Candidate]:
    """Every memory of the person's that names a project, person or interest found above."""
    targets = {
        (c.key, c.value)
        for c in found
        if c.key.split(":")[0] in MENTIONED and is_name(c.value) and len(c.value) > 2
    }
    patterns = {(key, value): re.compile(rf"\b{re.escape(value)}\b") for key, value in targets}
    for memory in the_persons(memories):
        for sentence in sentences(memory.text):
            for (key, value), pattern in patterns.items():
                if pattern.search(sentence):
                    yield Candidate(key, value, memory, sentence, "rules:mention")


# -- the extractor ------------------------------------------------------------------------------------------


RuleSet = Callable[[list[Memory]], Iterator[Candidate]]
RULES: dict[str, RuleSet] = {
    "statements": statement_candidates,
    "answers": answer_candidates,
    "notes": note_candidates,
    "series": series_candidates,
    "knowledge": knowledge_candidates,
}


def extract_candidates(memories: list[Memory]) -> list[Candidate]:
    """Every candidate the rules find in `memories` (live memories, oldest first)."""
    found = [c for rule in RULES.values() for c in rule(memories)]
    resolve_aliases(found, aliases(memories))
    unify_events(found)
    named = {
        normalise(c.value)
        for c in found
        if c.key.split(":")[0] in ("project", "learning", "employer")
    }
    found += list(tag_candidates(memories, named))
    found += list(mention_candidates(memories, found))
    return found
