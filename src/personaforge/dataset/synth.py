"""Knowledge pairs from a teacher model behind an OpenAI-compatible endpoint.

`--teacher http://localhost:11434/v1` (Ollama), a vLLM server, or a remote API:
memories are sent in batches of `dataset.teacher_batch`, each request retried
with exponential backoff, and every answer cached by the hash of its request,
so a rebuild asks nothing twice. A teacher that is down, slow or answers
garbage is reported and its memories fall back to the template extractor;
it never stops the build. Set PERSONAFORGE_TEACHER_API_KEY for endpoints that
need a key. Nothing is sent anywhere unless --teacher is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from personaforge.atomic import atomic_write_text
from personaforge.config import DatasetSettings
from personaforge.store import Memory

INSTRUCTIONS = (
    "Below are numbered notes written by one person. Write question/answer pairs about this person "
    "(their preferences, habits, projects, opinions) that the notes clearly support: at most 2 per note. "
    "Questions address the person as 'you'. Answers are in the first person, in the person's own voice, "
    "one to three sentences, using only what the notes say. Reply with JSON only: "
    '[{"note": <number>, "question": "...", "answer": "..."}]'
)
MAX_NOTE_CHARS = 1500  # per note in a request: enough context, bounded prompt size


@dataclass
class TeacherReport:
    endpoint: str
    requests: int = 0
    cached: int = 0
    failed: int = 0
    pairs: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return vars(self)


class TeacherClient:
    def __init__(self, endpoint: str, settings: DatasetSettings, cache_dir: Path, sleep=time.sleep):
        self.url = endpoint.rstrip("/") + (
            "" if endpoint.rstrip("/").endswith("/chat/completions") else "/chat/completions"
        )
        self.settings = settings
        self.cache_dir = cache_dir
        self.sleep = sleep
        self.report = TeacherReport(endpoint)

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get("PERSONAFORGE_TEACHER_API_KEY")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=self.settings.teacher_timeout_s) as response:
            return json.loads(response.read().decode())

    def complete(
        self, prompt: str, instructions: str = INSTRUCTIONS, cache_prefix: str = ""
    ) -> str | None:
        """The teacher's reply to `instructions` + `prompt`, from the cache or the endpoint, retried
        with backoff (1 s, doubling); None after the retries fail. The profile's extractor
        (profile/teacher.py) asks with its own instructions and cache prefix."""
        body = {
            "model": self.settings.teacher_model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": instructions},
                {"role": "user", "content": prompt},
            ],
        }
        digest = hashlib.sha256(json.dumps([self.url, body], sort_keys=True).encode()).hexdigest()
        cached = self.cache_dir / f"{cache_prefix}{digest}.json"
        if cached.exists():
            self.report.cached += 1
            return json.loads(cached.read_text())["reply"]
        delay = 1.0
        for attempt in range(self.settings.teacher_retries + 1):
            self.report.requests += 1
            try:
                reply = self._post(body)["choices"][0]["message"]["content"]
                if not isinstance(reply, str):
                    raise TypeError(f"the reply's content is {type(reply).__name__}, not text")
            except (
                urllib.error.URLError,
                OSError,
                ValueError,
                KeyError,
                IndexError,
                TypeError,
            ) as exc:
                if attempt == self.settings.teacher_retries:
                    self.report.failed += 1
                    self.report.problems.append(
                        f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
                    )
                    return None
                self.sleep(delay)
                delay *= 2
                continue
            atomic_write_text(cached, json.dumps({"reply": reply}))
            return reply
        return None


def parse_pairs(reply: str, batch: list[Memory]) -> list[tuple[Memory, str, str]] | None:
    """Pairs from a teacher reply, or None when the reply is not the JSON asked for."""
    text = re.sub(r"^```(?:json)?|```$", "", reply.strip(), flags=re.M).strip()
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        match = re.search(r"\[.*\]", text, re.S)
        if not match:
            return None
        try:
            items = json.loads(match.group(0))
        except json.JSONDecodeError:
            return None
    if not isinstance(items, list):
        return None
    pairs = []
    for item in items:
        if not isinstance(item, dict):
            continue
        note, question, answer = item.get("note"), item.get("question"), item.get("answer")
        if not (isinstance(note, int) and 1 <= note <= len(batch)):
            continue
        if (
            isinstance(question, str)
            and isinstance(answer, str)
            and len(answer.split()) >= 3
            and question.strip()
        ):
            pairs.append((batch[note - 1], question.strip(), answer.strip()))
    return pairs


def teacher_pairs(
    memories: list[Memory], client: TeacherClient
) -> dict[str, list[tuple[str, str]]]:
    """memory id -> (question, answer) pairs, for the memories the teacher handled."""
    eligible = [
        m
        for m in memories
        if m.speaker == "self" and m.mode != "feedback" and len(m.text.split()) >= 12
    ]
    found: dict[str, list[tuple[str, str]]] = {}
    size = client.settings.teacher_batch
    for start in range(0, len(eligible), size):
        batch = eligible[start : start + size]
        prompt = "\n\n".join(
            f"Note {i}: {m.text[:MAX_NOTE_CHARS]}" for i, m in enumerate(batch, start=1)
        )
        reply = client.complete(prompt)
        if reply is None:
            if client.report.failed >= 2 and not found:  # down, not flaky: stop asking
                client.report.problems.append(
                    "teacher unreachable; the remaining memories use templates"
                )
                break
            continue
        pairs = parse_pairs(reply, batch)
        if pairs is None:
            client.report.problems.append(
                f"batch {start // size + 1}: reply is not the JSON asked for"
            )
            continue
        for memory, question, answer in pairs:
            found.setdefault(memory.id, []).append((question, answer))
            client.report.pairs += 1
    return found
