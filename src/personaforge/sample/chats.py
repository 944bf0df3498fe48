"""Sample AI-chat transcripts in the shapes the real exports use.

- ChatGPT export: conversations.json, a list of conversations whose messages form
  a tree in `mapping`; `current_node` marks the branch the user kept. One
  conversation has an edited message, so an abandoned branch exists that ingest
  must not treat as part of the conversation.
- Claude.ai export: conversations.json with flat `chat_messages` (sender human/assistant).
- Claude Code: one JSONL file per session under a project folder, with user and
  assistant entries, thinking blocks, tool_use and tool_result blocks,
  <system-reminder> blocks, a summary line, and one session whose last line was
  cut off mid-write.

The conversations themselves are data (data/sample/chats.json); this file gives
them the shapes of the exports.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from personaforge.sample import texts
from personaforge.sample.writer import SampleWriter

Turn = tuple[str, str]  # (Maren's message, the assistant's reply)


def read_conversations(entries: list[dict[str, Any]]) -> list[tuple[str, str, list[Turn]]]:
    """(title, start, turns) from the data files' {"title", "start", "turns"} objects."""
    return [
        (entry["title"], entry["start"], [(mine, reply) for mine, reply in entry["turns"]])
        for entry in entries
    ]


def read_session(entry: dict[str, Any]) -> dict[str, Any]:
    """A Claude Code session from the data files: turns are (kind, payload), a tool (name, input)."""
    turns = []
    for kind, payload in entry["turns"]:
        if isinstance(payload, dict) and "tool" in payload:
            payload = {**payload, "tool": tuple(payload["tool"])}
        turns.append((kind, payload))
    return {**entry, "turns": turns}


_CHATS = texts.load("chats.json")
CHATGPT_CONVERSATIONS: list[tuple[str, str, list[Turn]]] = read_conversations(_CHATS["chatgpt"])

# A conversation whose second user message was edited: the first version's branch
# is abandoned. Both texts are kept in the manifest so tests can check ingest.
BRANCHED = {
    key: value if isinstance(value, str) else tuple(value)
    for key, value in _CHATS["branched"].items()
}

CLAUDE_CONVERSATIONS: list[tuple[str, str, list[Turn]]] = read_conversations(_CHATS["claude"])

CLAUDE_CODE_SESSIONS = [read_session(entry) for entry in _CHATS["claude_code"]]


def _ids(rng: random.Random):
    while True:
        yield str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _epoch(iso: str, minutes: int = 0) -> float:
    moment = datetime.fromisoformat(iso).replace(tzinfo=timezone.utc) + timedelta(minutes=minutes)
    return round(moment.timestamp(), 3)


def _chatgpt_node(node_id, role, text, when, parent):
    message = None
    if role is not None:
        message = {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": when,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "end_turn": role == "assistant" or None,
            "weight": 1.0 if role != "system" else 0.0,
            "metadata": {"is_visually_hidden_from_conversation": True} if role == "system" else {},
            "recipient": "all",
        }
    return {"id": node_id, "message": message, "parent": parent, "children": []}


def _chatgpt_conversation(title: str, start: str, turns: list[Turn], ids) -> tuple[dict, dict]:
    """A linear conversation as a ChatGPT mapping tree; returns it and the node map."""
    mapping: dict[str, dict] = {}
    root = "client-created-root"
    mapping[root] = _chatgpt_node(root, None, "", None, None)
    system = next(ids)
    mapping[system] = _chatgpt_node(system, "system", "", None, root)
    mapping[root]["children"].append(system)
    parent, minute = system, 0
    for user_text, assistant_text in turns:
        for role, text in (("user", user_text), ("assistant", assistant_text)):
            node = next(ids)
            mapping[node] = _chatgpt_node(node, role, text, _epoch(start, minute), parent)
            mapping[parent]["children"].append(node)
            parent, minute = node, minute + 1
    conversation_id = next(ids)
    return {
        "title": title,
        "create_time": _epoch(start),
        "update_time": _epoch(start, minute),
        "mapping": mapping,
        "moderation_results": [],
        "current_node": parent,
        "conversation_id": conversation_id,
        "id": conversation_id,
        "default_model_slug": "gpt-4o",
    }, mapping


def _branched_conversation(ids) -> tuple[dict, dict[str, str]]:
    """First exchange, then two children of the first answer; current_node follows the edit."""
    b = BRANCHED
    conversation, mapping = _chatgpt_conversation(b["title"], b["date"], [b["first"]], ids)
    fork = conversation["current_node"]
    branch_ends = {}
    for branch, minute in (("abandoned", 2), ("kept", 3)):
        parent = fork
        exchanges = [b[branch]] + ([b["final"]] if branch == "kept" else [])
        for user_text, assistant_text in exchanges:
            for role, text in (("user", user_text), ("assistant", assistant_text)):
                node = next(ids)
                mapping[node] = _chatgpt_node(node, role, text, _epoch(b["date"], minute), parent)
                mapping[parent]["children"].append(node)
                parent, minute = node, minute + 1
        branch_ends[branch] = parent
    conversation["current_node"] = branch_ends["kept"]
    conversation["update_time"] = _epoch(b["date"], 10)
    return conversation, branch_ends


def write_chatgpt(w: SampleWriter, rng: random.Random) -> None:
    ids = _ids(rng)
    rel = "chats/chatgpt/conversations.json"
    conversations = []
    for title, start, turns in CHATGPT_CONVERSATIONS:
        conversation, _ = _chatgpt_conversation(title, start, turns, ids)
        conversations.append(conversation)
        if "4111" in turns[0][0]:
            w.plant("card", "4111 1111 1111 1111", rel)
    branched, _ = _branched_conversation(ids)
    conversations.append(branched)
    conversations.sort(key=lambda c: c["create_time"], reverse=True)  # exports list newest first
    w.write(
        rel,
        json.dumps(conversations, indent=1, ensure_ascii=False),
        "chatgpt",
        datetime(2026, 10, 31, 12),
    )
    w.expect("abandoned_branch_text", BRANCHED["abandoned"][0])


def claude_conversation(name: str, start: str, turns: list[Turn], ids, account: str) -> dict:
    """One Claude.ai conversation: flat chat_messages, two minutes between messages."""
    messages, minute = [], 0
    for user_text, assistant_text in turns:
        for sender, text in (("human", user_text), ("assistant", assistant_text)):
            stamp = (datetime.fromisoformat(start) + timedelta(minutes=minute)).isoformat() + "Z"
            messages.append(
                {
                    "uuid": next(ids),
                    "text": text,
                    "content": [{"type": "text", "text": text}],
                    "sender": sender,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "attachments": [],
                    "files": [],
                }
            )
            minute += 2
    return {
        "uuid": next(ids),
        "name": name,
        "created_at": start + "Z",
        "updated_at": messages[-1]["created_at"],
        "account": {"uuid": account},
        "chat_messages": messages,
    }


def write_claude(w: SampleWriter, rng: random.Random) -> None:
    ids = _ids(rng)
    account = next(ids)
    conversations = [
        claude_conversation(name, start, turns, ids, account)
        for name, start, turns in CLAUDE_CONVERSATIONS
    ]
    w.write(
        "chats/claude/conversations.json",
        json.dumps(conversations, indent=1, ensure_ascii=False),
        "claude",
        datetime(2026, 10, 31, 12),
    )


def add_to_exports(
    w: SampleWriter,
    rng: random.Random,
    chatgpt: list[tuple[str, str, list[Turn]]],
    claude: list[tuple[str, str, list[Turn]]],
    when: datetime,
) -> None:
    """A later export: the same files, holding the old conversations and the new ones.

    Real exports are cumulative, so a monthly update rewrites conversations.json
    with everything in it; the old conversations keep their ids and their bytes.
    """
    ids = _ids(rng)
    if chatgpt:
        rel = "chats/chatgpt/conversations.json"
        conversations = json.loads((w.root / rel).read_text(encoding="utf-8"))
        conversations += [_chatgpt_conversation(t, s, turns, ids)[0] for t, s, turns in chatgpt]
        conversations.sort(key=lambda c: c["create_time"], reverse=True)
        w.write(rel, json.dumps(conversations, indent=1, ensure_ascii=False), "chatgpt", when)
    if claude:
        rel = "chats/claude/conversations.json"
        conversations = json.loads((w.root / rel).read_text(encoding="utf-8"))
        account = conversations[0]["account"]["uuid"] if conversations else next(ids)
        conversations += [claude_conversation(n, s, turns, ids, account) for n, s, turns in claude]
        w.write(rel, json.dumps(conversations, indent=1, ensure_ascii=False), "claude", when)


def _claude_code_lines(session: dict, rng: random.Random, secrets: dict[str, str]) -> list[dict]:
    ids = _ids(rng)
    session_id = next(ids)
    start = datetime.fromisoformat(session["start"])
    common = {
        "isSidechain": False,
        "userType": "external",
        "cwd": session["cwd"],
        "sessionId": session_id,
        "version": "2.0.14",
        "gitBranch": "main",
    }
    lines: list[dict] = [{"type": "summary", "summary": session["summary"], "leafUuid": next(ids)}]
    parent = None
    pending_tool = None
    for index, (kind, payload) in enumerate(session["turns"]):
        entry_id = next(ids)
        stamp = (start + timedelta(seconds=40 * index)).isoformat(timespec="milliseconds") + "Z"
        if kind == "user":
            text = payload.format(**secrets)
            message = {"role": "user", "content": text}
            entry = {"type": "user", "message": message}
        elif kind == "tool_result":
            entry = {
                "type": "user",
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "tool_use_id": pending_tool,
                            "type": "tool_result",
                            "content": payload,
                            "is_error": False,
                        }
                    ],
                },
                "toolUseResult": {"stdout": payload, "stderr": "", "interrupted": False},
            }
        else:
            content = []
            if "thinking" in payload:
                content.append(
                    {
                        "type": "thinking",
                        "thinking": payload["thinking"],
                        "signature": "sig-" + entry_id[:8],
                    }
                )
            content.append({"type": "text", "text": payload["text"]})
            stop = "end_turn"
            if "tool" in payload:
                name, tool_input = payload["tool"]
                pending_tool = "toolu_" + entry_id.replace("-", "")[:24]
                content.append(
                    {"type": "tool_use", "id": pending_tool, "name": name, "input": tool_input}
                )
                stop = "tool_use"
            entry = {
                "type": "assistant",
                "requestId": "req_" + entry_id[:12],
                "message": {
                    "id": "msg_" + entry_id.replace("-", "")[:24],
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5",
                    "content": content,
                    "stop_reason": stop,
                    "usage": {"input_tokens": 1200 + 37 * index, "output_tokens": 80 + 11 * index},
                },
            }
        lines.append(
            {"parentUuid": parent, **common, **entry, "uuid": entry_id, "timestamp": stamp}
        )
        parent = entry_id
    return lines


def write_claude_code_session(
    w: SampleWriter, session: dict, rng: random.Random, secrets: dict[str, str]
) -> str:
    """One session's JSONL under its project folder; returns its relative path."""
    lines = _claude_code_lines(session, rng, secrets)
    session_id = lines[1]["sessionId"]
    rel = f"chats/claude-code/{session['project']}/{session_id}.jsonl"
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    if "{github_token}" in json.dumps(session["turns"]):
        w.plant("github_token", secrets["github_token"], rel)
    if session.get("truncated"):
        # The session ended mid-write: the last line is cut in half.
        text = text.rstrip("\n")
        text = text[: len(text) - 60]
        w.expect("truncated_last_line", rel)
    when = datetime.fromisoformat(session["start"]) + timedelta(minutes=30)
    w.write(rel, text, "claude-code", when)
    return rel


def write_claude_code(w: SampleWriter, rng: random.Random, secrets: dict[str, str]) -> None:
    for session in CLAUDE_CODE_SESSIONS:
        write_claude_code_session(w, session, rng, secrets)
