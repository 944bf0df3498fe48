"""Memories to training examples, one extractor per kind (registered in EXTRACTORS).

- voice: the person's own writing as the assistant turn, after a user turn that
  fits its context (a journal prompt for a daily note, a question for a #decision);
  headings the text opens with go to the prompt, never into the reply;
- reflection: paragraphs of the person's own writing (notes, journals, episodic
  memories; never chat turns) marked by reflection tags or phrases, the reasons kept;
- dialogue: the person's real chat replies, the earlier turns as context (the
  other side of the chat plays the user); in messaging and mail, another
  person's message followed by her reply, the others only ever in the prompt;
- knowledge: question/answer pairs about the person, from a teacher model when
  one is configured (synth.py), otherwise from sentence templates below;
- preference: corrections as {prompt, chosen, rejected}.

Prompts are picked from small template lists by a stable hash of the memory
id, so rebuilding gives the same prompts and different memories get variety.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from personaforge.config import REFLECTION_TAGS, DatasetSettings
from personaforge.dataset.examples import Example
from personaforge.dataset.targets import is_code, own_text, quotes
from personaforge.store import Memory

# Messaging and mail (sources/ marks them `messaging`; a test keeps the two in step): other
# people write there, so a reply is hers only when it answers someone else.
MESSAGING_SOURCES = {"whatsapp", "telegram", "discord", "messenger", "signal", "mail"}
CHAT_SOURCES = {"chatgpt", "claude", "claude-code", "jsonl", *MESSAGING_SOURCES}
DAILY_TITLE = re.compile(r"^\d{4}-(?:\d{2}-\d{2}|W\d{2})")  # 2026-06-02, 2026-W41
# Tags that say what kind of note it is rather than what it is about; never a prompt's topic.
GENERIC_TAGS = {"daily", "journal", "review", "note", "notes", "inbox", *REFLECTION_TAGS}
LEADING_HEADINGS = re.compile(r"\A(?:[ \t]*\n)*((?:#{1,6}[ \t]+[^\n]*(?:\n[ \t]*)*)+)")
_HEADING_TEXT = re.compile(r"^#{1,6}[ \t]+(.*?)[ \t#]*$", re.M)


@dataclass
class ExtractContext:
    settings: DatasetSettings
    conversations: dict[
        tuple[str, str], list[Memory]
    ]  # (source, conversation id) -> turns in order
    teacher_pairs: dict[str, list[tuple[str, str]]] = field(
        default_factory=dict
    )  # memory id -> (q, a)

    @property
    def system_prompt(self) -> str:
        return self.settings.persona_prompt.replace("{name}", self.settings.person_name)

    def chat(self, user: str, assistant: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": user},
            {"role": "assistant", "content": assistant},
        ]


def pick(options: list[str], memory: Memory, salt: str = "") -> str:
    digest = hashlib.sha256(f"{memory.id}{salt}".encode()).digest()
    return options[digest[0] % len(options)]


def human_date(iso: str) -> str:
    try:
        day = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:10]
    return f"{day:%A} {day.day} {day:%B %Y}"


def heading_of(memory: Memory) -> str | None:
    """The memory's own heading: its section's, else the last heading its text opens with."""
    path = memory.meta.get("heading_path") or []
    if path:
        return str(path[-1])
    headings, _ = split_leading_headings(memory.text)
    return headings[-1] if headings else None


def topic_of(memory: Memory) -> str:
    """What a memory is about, for a prompt: its note and heading, else a tag."""
    if memory.source != "episodic":
        note = memory.meta.get("note") or memory.title.split(" > ")[0]
        heading = heading_of(memory)
        if note and not DAILY_TITLE.match(note):
            return f"{note}: {heading}" if heading and heading != note else note
        if heading and not DAILY_TITLE.match(heading):
            return heading
    tags = [t.split("/")[-1] for t in memory.tags if t.split("/")[0].lower() not in GENERIC_TAGS]
    return tags[0].replace("-", " ") if tags else "your day"


def split_leading_headings(text: str) -> tuple[list[str], str]:
    """(headings the text opens with, the text after them).

    87% of vault sections in a large public vault opened with their own heading;
    a heading names the text, so it belongs in the prompt, not in the reply.
    """
    match = LEADING_HEADINGS.match(text)
    if not match:
        return [], text.strip()
    return _HEADING_TEXT.findall(match.group(1)), text[match.end() :].strip()


def without_title(text: str) -> str:
    """The text without the headings it opens with ('# Title', '## Morning')."""
    return split_leading_headings(text)[1]


def is_own_writing(memory: Memory) -> bool:
    """The person's own notes, journals and memories: not chat turns, not corrections."""
    return (
        memory.speaker == "self" and memory.mode != "feedback" and memory.source not in CHAT_SOURCES
    )


def is_daily(memory: Memory) -> bool:
    return memory.meta.get("date_from") in ("filename", "folders") or bool(
        DAILY_TITLE.match(memory.title)
    )


# -- voice ----------------------------------------------------------------------------

JOURNAL_PROMPTS = [
    "Write your journal entry for {date}.",
    "How was {date}? Write it the way you would in your journal.",
    "Journal for {date}: what happened, and what did you make of it?",
]
JOURNAL_SECTION_PROMPTS = [
    "Write the '{heading}' part of your journal for {date}.",
    "{date}, {heading}: how did it go?",
]
DECISION_PROMPTS = [
    "What did you decide about {topic}, and why?",
    "Walk me through your decision on {topic}.",
]
REVIEW_PROMPTS = ["Write your weekly review: {topic}.", "Looking at the week: {topic}?"]
NOTE_PROMPTS = [
    "Tell me about {topic}.",
    "What are your notes on {topic}?",
    "Write down what you know about {topic}.",
]
EPISODE_PROMPTS = {
    "reflection": [
        "What's on your mind today ({date})?",
        "Anything you have been turning over, {date}?",
    ],
    "observation": ["What happened on {date}?", "Tell me something from {date}."],
    "agent": ["What did you get done on {date}?"],
    "conversation": ["What did you want to talk about on {date}?"],
    "dual": ["What happened on {date}?"],
}


def voice_prompt(memory: Memory) -> str:
    date = human_date(memory.created_at)
    tags = {t.split("/")[0] for t in memory.tags}
    topic = topic_of(memory)
    if memory.source == "episodic":
        return pick(
            EPISODE_PROMPTS.get(memory.mode, EPISODE_PROMPTS["observation"]), memory
        ).format(date=date)
    if "decision" in tags:
        return pick(DECISION_PROMPTS, memory).format(topic=topic)
    if "review" in tags:
        return pick(REVIEW_PROMPTS, memory).format(topic=memory.title)
    if is_daily(memory):
        heading = heading_of(memory)
        if (
            heading
            and not DAILY_TITLE.match(heading)
            and not heading.startswith(date.split(" ")[0])
        ):
            return pick(JOURNAL_SECTION_PROMPTS, memory).format(heading=heading, date=date)
        return pick(JOURNAL_PROMPTS, memory).format(date=date)
    return pick(NOTE_PROMPTS, memory).format(topic=topic)


def with_quotes(prompt: str, quoted: list[str]) -> str:
    """The prompt, followed by what the note quotes: context for her comment, never a target."""
    if not quoted:
        return prompt
    passages = "\n\n".join("\n".join(f"> {line}" for line in q.split("\n")) for q in quoted)
    return f"{prompt}\n\nThe note quotes:\n{passages}"


def extract_voice(memories: list[Memory], context: ExtractContext) -> list[Example]:
    """The person's notes as replies; what a note quotes goes to the prompt (targets.py)."""
    examples = []
    for memory in memories:
        if not is_own_writing(memory):
            continue
        body = without_title(memory.text)
        text = own_text(body)
        if text:
            prompt = with_quotes(voice_prompt(memory), quotes(body))
            examples.append(Example("voice", context.chat(prompt, text), [memory]))
    return examples


# -- reflection -------------------------------------------------------------------------

REFLECTION_PROMPTS = [
    "Reflect on {topic}.",
    "What have you been thinking about {topic}?",
    "What did you learn from {topic}?",
    "Looking back on {topic}, what stands out?",
]
MIN_REFLECTION_WORDS = 8


def reflection_reasons(paragraph: str, memory: Memory, settings: DatasetSettings) -> list[str]:
    reasons = []
    wanted = {t.lower() for t in settings.reflection_tags}
    inline = {t.lower().split("/")[0] for t in re.findall(r"#([\w/\-]+)", paragraph)}
    memory_tags = {t.lower().split("/")[0] for t in memory.tags}
    for tag in sorted(wanted & (inline | (memory_tags if memory.source == "episodic" else set()))):
        reasons.append(f"tag:{tag}")
    lowered = paragraph.lower()
    for phrase in settings.reflection_phrases:
        if re.search(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)", lowered):
            reasons.append(f"phrase:{phrase}")
    if memory.mode == "reflection" and memory.source == "episodic":
        reasons.append("mode:reflection")
    return reasons


def extract_reflection(memories: list[Memory], context: ExtractContext) -> list[Example]:
    """Reflective paragraphs of the person's own writing.

    Never chat turns: "I think" in a chat reply answers the other side, and the
    prompt built from a chat's title often held the reply itself.
    """
    examples = []
    for memory in memories:
        if not is_own_writing(memory):
            continue
        for index, block in enumerate(without_title(memory.text).split("\n\n")):
            # "## Morning\nI think..." -> "I think..."; a quoted passage is not her reflection.
            paragraph = own_text(block, headings="drop")
            if len(paragraph.split()) < MIN_REFLECTION_WORDS or is_code(block):
                continue
            reasons = reflection_reasons(paragraph, memory, context.settings)
            if not reasons:
                continue
            prompt = pick(REFLECTION_PROMPTS, memory, str(index)).format(topic=topic_of(memory))
            examples.append(
                Example(
                    "reflection",
                    context.chat(prompt, paragraph),
                    [memory],
                    extra={"reasons": reasons, "paragraph": index},
                )
            )
    return examples


# -- dialogue -----------------------------------------------------------------------------


def _context_messages(earlier: list[Memory], group: bool) -> list[dict[str, str]]:
    """Earlier turns as chat messages: hers as the assistant, everyone else's as the user.

    Consecutive turns of other people are one user message (a group's three replies
    in a row are one prompt), each line led by its author's name when the
    conversation is a group, so the model sees who said what.
    """
    messages: list[dict[str, str]] = []
    for turn in earlier:
        role = "assistant" if turn.speaker == "self" else "user"
        text = turn.text
        if role == "user" and group:
            text = f"{turn.meta.get('author') or 'Someone'}: {text}"
        if messages and messages[-1]["role"] == role:
            messages[-1] = {"role": role, "content": messages[-1]["content"] + "\n\n" + text}
        else:
            messages.append({"role": role, "content": text})
    while messages and messages[0]["role"] != "user":
        messages.pop(0)
    return messages


def extract_dialogue(memories: list[Memory], context: ExtractContext) -> list[Example]:
    """Each of the person's chat replies, with the turns before it; the other side plays the user.

    In messaging and mail a reply counts only when the turn just before it is
    someone else's: her message after her own (the same person again, after a
    thread of her own mails) has no one to answer.
    """
    examples = []
    for memory in memories:
        if memory.speaker != "self" or memory.source not in CHAT_SOURCES:
            continue
        key = (memory.source, str(memory.meta.get("conversation_id")))
        turns = context.conversations.get(key, [])
        position = next((i for i, turn in enumerate(turns) if turn.id == memory.id), None)
        if not position:  # the opening message has nothing to reply to
            continue
        messaging = memory.source in MESSAGING_SOURCES
        if messaging and turns[position - 1].speaker == "self":
            continue
        earlier = turns[max(0, position - context.settings.dialogue_context_turns) : position]
        messages = _context_messages(earlier, messaging and bool(memory.meta.get("group")))
        if not messages:
            continue
        reply = own_text(memory.text)  # a passage she quotes back is not her reply
        if not reply:
            continue
        messages = [
            {"role": "system", "content": context.system_prompt},
            *messages,
            {"role": "assistant", "content": reply},
        ]
        examples.append(
            Example(
                "dialogue",
                messages,
                [memory, *[t for t in earlier if t.id != memory.id]],
                extra={"context_turns": len(messages) - 2},
            )
        )
    return examples


# -- knowledge ------------------------------------------------------------------------------

# (category, sentence pattern in the first person, question templates)
KNOWLEDGE_PATTERNS: list[tuple[str, re.Pattern[str], list[str]]] = [
    (
        "preference",
        re.compile(r"\bI (?:prefer|like|love|enjoy|hate|dislike|can't stand|avoid|want)\b", re.I),
        [
            "What do you prefer when it comes to {topic}?",
            "What do you like and dislike about {topic}?",
        ],
    ),
    (
        "habit",
        re.compile(
            r"\bI (?:always|usually|never|often|tend to|try to)\b|\bevery (?:morning|day|week|sunday)\b",
            re.I,
        ),
        ["What are your habits around {topic}?", "How do you usually handle {topic}?"],
    ),
    (
        "project",
        re.compile(r"\b(?:I'm|I am) (?:working on|building|learning|writing|training for)\b", re.I),
        ["What are you working on with {topic}?", "How is {topic} going?"],
    ),
    (
        "opinion",
        re.compile(
            r"\bI (?:think|believe|am convinced|suspect)\b|\bin my (?:view|opinion)\b", re.I
        ),
        ["What is your view on {topic}?", "What do you think about {topic}?"],
    ),
    (
        "decision",
        re.compile(r"\bI (?:decided|chose|picked|settled on)\b|\bultimately decided\b", re.I),
        ["What did you decide about {topic}?"],
    ),
]
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
MAX_KNOWLEDGE_SENTENCES = 3


def template_knowledge(memory: Memory) -> list[tuple[str, str, str]]:
    """(category, question, answer) from first-person sentences of one memory."""
    clean = re.sub(r"```.*?```", " ", own_text(memory.text, headings="drop"), flags=re.S)
    sentences = [
        s.strip()
        for line in clean.split("\n")
        if not line.startswith("#")
        for s in SENTENCE.split(line)
    ]
    found = []
    for category, pattern, questions in KNOWLEDGE_PATTERNS:
        matching = [s for s in sentences if pattern.search(s) and 4 <= len(s.split()) <= 60]
        if matching:
            answer = " ".join(matching[:MAX_KNOWLEDGE_SENTENCES])
            found.append(
                (category, pick(questions, memory, category).format(topic=topic_of(memory)), answer)
            )
    return found


def extract_knowledge(memories: list[Memory], context: ExtractContext) -> list[Example]:
    examples = []
    for memory in memories:
        if memory.speaker != "self" or memory.mode == "feedback":
            continue
        if memory.id in context.teacher_pairs:
            for question, answer in context.teacher_pairs[memory.id]:
                examples.append(
                    Example(
                        "knowledge",
                        context.chat(question, answer),
                        [memory],
                        extra={"from": "teacher"},
                    )
                )
            continue
        if memory.source in MESSAGING_SOURCES:
            continue  # a chat's title is a contact's name: no topic for a template question
        for category, question, answer in template_knowledge(memory):
            examples.append(
                Example(
                    "knowledge",
                    context.chat(question, answer),
                    [memory],
                    extra={"from": "template", "category": category},
                )
            )
    return examples


# -- preference -------------------------------------------------------------------------------


def extract_preference(memories: list[Memory], context: ExtractContext) -> list[Example]:
    examples = []
    for memory in memories:
        if memory.mode != "feedback" or memory.meta.get("kind") != "preference":
            continue
        prompt = [
            {"role": "system", "content": context.system_prompt},
            {"role": "user", "content": memory.meta["prompt"]},
        ]
        examples.append(
            Example(
                "preference",
                prompt,
                [memory],
                chosen=memory.meta["chosen"],
                rejected=memory.meta["rejected"],
            )
        )
    return examples


EXTRACTORS: dict[str, Callable[[list[Memory], ExtractContext], list[Example]]] = {
    "voice": extract_voice,
    "reflection": extract_reflection,
    "dialogue": extract_dialogue,
    "knowledge": extract_knowledge,
    "preference": extract_preference,
}


def conversations_of(memories: list[Memory]) -> dict[tuple[str, str], list[Memory]]:
    """Chat turns grouped by conversation, in turn order (the context dialogue examples need)."""
    grouped: dict[tuple[str, str], list[Memory]] = {}
    for memory in memories:
        if memory.source in CHAT_SOURCES and "conversation_id" in memory.meta:
            grouped.setdefault((memory.source, str(memory.meta["conversation_id"])), []).append(
                memory
            )
    for turns in grouped.values():
        turns.sort(key=lambda m: int(m.meta.get("turn", 0)))
    return grouped


def extract(memories: list[Memory], kinds: list[str], context: ExtractContext) -> list[Example]:
    return [example for kind in kinds for example in EXTRACTORS[kind](memories, context)]
