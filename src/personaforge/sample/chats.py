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
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta, timezone

from personaforge.sample.writer import SampleWriter

Turn = tuple[str, str]  # (Maren's message, the assistant's reply)

CHATGPT_CONVERSATIONS: list[tuple[str, str, list[Turn]]] = [
    (
        "Dutch word order after omdat",
        "2026-06-09T20:14:00",
        [
            (
                "Dutch question. Why does the verb jump to the end after 'omdat'? Norwegian does not do this and my brain refuses.",
                "After subordinating conjunctions like 'omdat' (because), Dutch uses subordinate-clause word order: the finite "
                "verb moves to the end. 'Ik blijf thuis omdat ik moe ben.' Compare the main clause 'Ik ben moe.'",
            ),
            (
                "Ok. So 'want' does not do it? Short answer please.",
                "Right: 'want' is coordinating, so normal word order stays. 'Ik blijf thuis, want ik ben moe.'",
            ),
            (
                "Fair enough. Give me five sentences to practise, no answers.",
                "1. Ik neem de fiets omdat ... 2. Zij belt later omdat ... 3. We gaan niet want ... "
                "4. Hij is blij omdat ... 5. Ik lees veel want ...",
            ),
        ],
    ),
    (
        "Sourdough flat loaf",
        "2026-06-21T17:40:00",
        [
            (
                "Loaf came out flat today. 75% hydration, 6 hours bulk, kitchen was warm. Overproofed? Be direct.",
                "Very likely overproofed. In a warm kitchen (above 25 °C) bulk can finish in 4 hours. Look for about 50% "
                "rise, a domed surface and bubbles on the sides, rather than timing it.",
            ),
            (
                "So watch the dough, not the clock. That is what I wrote in my notes too. Anything else?",
                "Yes: use a straight-sided container so you can see the rise, and consider a cooler spot or colder water "
                "on hot days.",
            ),
        ],
    ),
    (
        "Harmonic tide prediction",
        "2026-06-04T22:05:00",
        [
            (
                "I am building a tide app for kayakers. Explain harmonic tide prediction in five sentences, no fluff.",
                "Tides are modelled as a sum of sine waves (constituents) with known periods from astronomy. Each station "
                "has its own amplitude and phase per constituent, fitted from past measurements. The biggest is M2, the "
                "principal lunar semidiurnal constituent, with a period of about 12.42 hours. Prediction sums the "
                "constituents at the requested time plus the mean water level. Accuracy is usually within minutes and "
                "centimetres, except when weather pushes the water.",
            ),
            (
                "Good. How many constituents do I need for a useful prediction?",
                "For most European stations 8 to 12 main constituents (M2, S2, N2, K2, K1, O1, P1, Q1 and a few shallow-water "
                "ones) get you close; official tables use 60 or more.",
            ),
            (
                "I will start with M2 and S2 and see how wrong I am. Wrong in a measurable way is fine.",
                "That is a sensible tracer bullet. Compare against the official table at one station and log the error "
                "in minutes for high and low water.",
            ),
        ],
    ),
    (
        "Half marathon plan",
        "2026-06-02T07:30:00",
        [
            (
                "Half marathon on 18 October. Current long run 8 km. Three runs a week max. Give me the shape of a plan, not a table.",
                "Keep Tuesday easy, Thursday for quality (intervals or tempo) and Sunday long. Grow the long run by about "
                "1 km a week to 16-18 km by mid-September, with a lighter week every fourth week, then taper for two weeks.",
            ),
            (
                "Boring. Good. What pace for the long runs?",
                "Conversational: 60 to 90 seconds per kilometre slower than your goal race pace.",
            ),
        ],
    ),
    (
        "Race registration payment",
        "2026-06-03T19:12:00",
        [
            (
                "The race site declined my card 4111 1111 1111 1111 twice. What do I check before I call the bank?",
                "Check the expiry date and CVC, whether the card allows online or foreign payments, and whether 3-D "
                "Secure confirmation is blocked by a popup blocker. Never share the full card number in chats like this.",
            ),
            (
                "Right, I should not have pasted that. It was the popup blocker.",
                "Good that it is solved. Consider removing the number from this conversation history.",
            ),
        ],
    ),
    (
        "Postmortem structure",
        "2026-08-14T10:20:00",
        [
            (
                "Writing a postmortem for a queue backlog at 3 a.m. Blameless. Give me the sections, nothing else.",
                "Summary, impact, timeline, root cause, contributing factors, what went well, what went poorly, action "
                "items with owners and dates.",
            ),
            (
                "The alert said 'queue high' and nothing else. I want that as a contributing factor without sounding petty.",
                "Phrase it as a system property: 'The alert identified the symptom but not the queue or message type, "
                "which added about 40 minutes of diagnosis.'",
            ),
        ],
    ),
    (
        "Estimates as ranges",
        "2026-07-03T13:45:00",
        [
            (
                "My lead wants one number for the migration. I want to give a range. Convince me or talk me out of it.",
                "A range communicates uncertainty honestly; a single number is usually heard as a commitment. Give the "
                "range with the assumptions that drive it, and say what would narrow it.",
            ),
            (
                "That is what I thought. 10 to 14 weeks, three assumptions. Done.",
                "That is a strong way to present it. Revisit the range when any assumption changes.",
            ),
        ],
    ),
    (
        "Norwegian and Dutch false friends",
        "2026-07-22T21:10:00",
        [
            (
                "Norwegian speaker learning Dutch. List false friends that will embarrass me.",
                "A few: Dutch 'hoppen' is not the Norwegian 'hoppe' (jump); 'rar' in both means odd, fine; Dutch 'slim' "
                "means clever, not thin; 'ruim' means spacious; 'bellen' means to call by phone.",
            ),
            (
                "'Slim' means clever. I have been complimenting people wrong for a month.",
                "An easy one to fix, and people will likely have taken it kindly.",
            ),
        ],
    ),
    (
        "Leading the cutover",
        "2026-08-20T21:30:00",
        [
            (
                "I said yes to leading a migration cutover. Help me write down what yes means, in four bullets.",
                "Scope: the cutover and the retro. Authority: go/no-go call on cutover night. Time: 50% for six weeks. "
                "End: handover after the retro.",
            ),
            (
                "Good. I will send that to Priya before I change my mind.",
                "Sending it early also gives her the chance to correct the scope before work starts.",
            ),
        ],
    ),
]

# A conversation whose second user message was edited: the first version's branch
# is abandoned. Both texts are kept in the manifest so tests can check ingest.
BRANCHED = {
    "title": "SQLite or Postgres for Tidewatch",
    "date": "2026-07-13T21:00:00",
    "first": (
        "Small offline app, read-mostly data, a year of tide predictions per station. SQLite or Postgres?",
        "SQLite fits: a single file, no server, fast reads, and it runs on the phone itself.",
    ),
    "abandoned": (
        "What about concurrent writes from many users at once?",
        "SQLite serialises writes; for many concurrent writers Postgres would be the better fit.",
    ),
    "kept": (
        "Backups and tests are what I care about. How do those look with SQLite?",
        "Backups are a file copy (or the online backup API), and tests can use an in-memory database, so "
        "they run in milliseconds.",
    ),
    "final": ("Decided: SQLite. Boring wins.", "Good choice for this workload."),
}

CLAUDE_CONVERSATIONS: list[tuple[str, str, list[Turn]]] = [
    (
        "Runbook for a night cutover",
        "2026-09-08T20:00:00",
        [
            (
                "I need a runbook for a routing service cutover at night. Keep it to go/no-go checks, steps, rollback.",
                "Go/no-go: shadow mismatches at zero for 48 hours, on-call staffed, rollback switch tested. Steps: freeze "
                "deploys, flip 10% of traffic, watch error rate and latency for 15 minutes, then 50%, then 100%. Rollback: "
                "flip the switch back, page the on-call, keep the new service running for diagnosis.",
            ),
            (
                "Add who decides. Me, as lead. Written down so nobody argues at 23:00.",
                "Added: 'Go/no-go decision: Maren (cutover lead). Escalation: Priya.'",
            ),
        ],
    ),
    (
        "Tidewatch README",
        "2026-10-25T18:30:00",
        [
            (
                "Review my README opening: 'Tidewatch tells sea kayakers when the next slack water is. Offline. No accounts.' Too short?",
                "It is clear and specific. Consider one more line on where the predictions come from, so people trust them.",
            ),
            (
                "Fair enough. Adding: 'Predictions come from published harmonic constituents, checked against official tables.'",
                "That line does the job: it says where the numbers come from and how they were checked.",
            ),
        ],
    ),
    (
        "Saying no in writing",
        "2026-10-05T21:15:00",
        [
            (
                "I say yes too fast in meetings. Give me one sentence to buy time without sounding evasive.",
                "'Let me check what that would push out and reply in writing by tomorrow.'",
            ),
            (
                "Good. Short, honest, and it moves the decision to writing, where I am better.",
                "Exactly, and it sets a clear time for the answer.",
            ),
        ],
    ),
]

CLAUDE_CODE_SESSIONS = [
    {
        "project": "-home-maren-code-tidewatch",
        "cwd": "/home/maren/code/tidewatch",
        "start": "2026-07-20T19:02:00",
        "summary": "Fix slack water interpolation across midnight",
        "turns": [
            (
                "user",
                "<system-reminder>\nThe user opened tidewatch/slack.py in the IDE.\n</system-reminder>\n"
                "The slack-water time is wrong when slack falls just after midnight. Write a failing test first, then fix it.",
            ),
            (
                "assistant",
                {
                    "thinking": "The interpolation probably uses minutes since midnight without wrapping.",
                    "text": "I'll start with a failing test for a slack water at 00:10.",
                    "tool": (
                        "Write",
                        {
                            "file_path": "tests/test_slack.py",
                            "content": "def test_slack_after_midnight(): ...",
                        },
                    ),
                },
            ),
            ("tool_result", "File created successfully at: tests/test_slack.py"),
            (
                "assistant",
                {
                    "text": "Now running the test to see it fail.",
                    "tool": (
                        "Bash",
                        {
                            "command": "pytest -q tests/test_slack.py",
                            "description": "Run the new test",
                        },
                    ),
                },
            ),
            ("tool_result", "F\n1 failed in 0.12s\nAssertionError: expected 00:10, got 23:50"),
            (
                "assistant",
                {
                    "text": "It fails as expected: the time wraps backwards. The fix is to interpolate on "
                    "absolute timestamps, not minutes since midnight.",
                    "tool": (
                        "Edit",
                        {
                            "file_path": "tidewatch/slack.py",
                            "old_string": "minutes % 1440",
                            "new_string": "timestamp",
                        },
                    ),
                },
            ),
            ("tool_result", "The file tidewatch/slack.py has been updated."),
            ("user", "Good. Run the whole suite. And keep the diff small — one idea per PR."),
            (
                "assistant",
                {
                    "text": "All 42 tests pass. The diff is 6 lines plus the new test.",
                    "tool": ("Bash", {"command": "pytest -q", "description": "Run all tests"}),
                },
            ),
            ("tool_result", "42 passed in 0.81s"),
            (
                "user",
                "Ship it. Commit message: 'Interpolate slack water on timestamps (fixes midnight wrap)'.",
            ),
            ("assistant", {"text": "Committed with that message."}),
        ],
    },
    {
        "project": "-home-maren-code-tidewatch",
        "cwd": "/home/maren/code/tidewatch",
        "start": "2026-10-27T20:15:00",
        "summary": "Set up CI release workflow",
        "truncated": True,
        "turns": [
            (
                "user",
                "Set up a GitHub Actions workflow that builds the release APK on tags. "
                "Here's the token for the CI push: {github_token} — store it as a secret, do not commit it.",
            ),
            (
                "assistant",
                {
                    "thinking": "Never write the token into a file; tell the user to add it as a repository secret.",
                    "text": "I won't put the token in any file. Add it under Settings → Secrets as "
                    "RELEASE_TOKEN; the workflow reads it from there.",
                    "tool": (
                        "Write",
                        {
                            "file_path": ".github/workflows/release.yml",
                            "content": "on: {push: {tags: ['v*']}}",
                        },
                    ),
                },
            ),
            ("tool_result", "File created successfully at: .github/workflows/release.yml"),
            ("user", "Thanks. Keep the workflow boring: build, test, upload. No matrix."),
            ("assistant", {"text": "Done: one job, three steps, no matrix."}),
        ],
    },
]


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
