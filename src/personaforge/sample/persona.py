"""The fictional person behind the sample data: who she is and what is true about her.

Maren Holt, 34, backend engineer at Kestrel Freight in Rotterdam, from Bergen.
Her notes run from June to October 2026 and follow a storyline (story.py: a
side project, a work migration, half-marathon training, a Dutch exam, a move
to Delft in late September) so that dates mean something to the monthly-update
mixer and questions about her have true answers.

Her voice is deliberately recognisable, so a trained adapter's style can be
measured: short declarative sentences, "Net:" summaries, "Tomorrow:" lines,
"honestly" and "fair enough", questions she answers herself ("Is that true?
Mostly."), and dashes instead of semicolons. Her sentences are composed from
parts (phrases.py, story.py, grammar.py), never drawn whole from a list, so a
held-out note is new text in a familiar voice rather than a rerun of templates.
"""

from __future__ import annotations

NAME = "Maren Holt"
FIRST_NAME = "Maren"
SELF_DESCRIPTION = (
    "Maren Holt: backend engineer at Kestrel Freight in Rotterdam, originally from Bergen. "
    "Building Tidewatch, a tide app for sea kayakers. Bakes sourdough, runs, learns Dutch."
)

# Facts a model trained on her data should be able to answer (the knowledge kind).
FACTS = {
    "job": "backend engineer at Kestrel Freight, a logistics company in Rotterdam",
    "hometown": "Bergen, Norway",
    "side_project": "Tidewatch, a tide-prediction app for sea kayakers",
    "database_choice": "SQLite for Tidewatch, decided on 14 July 2026",
    "race": "the Maas half marathon on 18 October 2026",
    "language": "Dutch, with the B1 exam on 24 September 2026",
    "starter": "a sourdough starter called Gus",
    "sister": "Ingrid, who lives in Bergen",
    "team_lead": "Priya",
    "editor": "Neovim",
    "morning_habit": "morning pages at 6:30 with tea",
    "review_habit": "a weekly review every Sunday evening",
}

OPINIONS = [
    "Small pull requests get reviewed; big ones get approved.",
    "Estimates should be ranges, not numbers.",
    "A meeting without an agenda is a chat with a calendar invite.",
    "SQLite is the right database for most small tools.",
    "Write the failing test before fixing the bug.",
    "Boring technology is a feature.",
    "Plain text outlives every app.",
    "Logs should say what happened, not that something happened.",
]

# The fact benchmark's questions about her (evaluate/knows.py reads them from the manifest's
# `quiz`): for each FACTS key and each opinion, the profile slot it belongs to, a question
# that does not give the answer away, and the words a right answer contains (any one of
# them; tests check each occurs in the fact or opinion it stands for).
FACT_QUESTIONS: dict[str, tuple[str, str, list[str]]] = {
    "job": ("employer", "Where do you work?", ["Kestrel"]),
    "hometown": ("hometown", "Where are you from originally?", ["Bergen"]),
    "side_project": ("project", "What is your side project?", ["Tidewatch"]),
    "database_choice": ("decision", "Which database did you choose for Tidewatch?", ["SQLite"]),
    "race": ("event", "Which race are you training for?", ["Maas"]),
    "language": ("learning", "Which language are you learning?", ["Dutch"]),
    "starter": ("named:starter", "What is your sourdough starter called?", ["Gus"]),
    "sister": ("relationship:sister", "What is your sister's name?", ["Ingrid"]),
    "team_lead": ("relationship:team lead", "Who leads your team at work?", ["Priya"]),
    "editor": ("editor", "Which code editor do you use?", ["Neovim"]),
    "morning_habit": ("habit", "How do you start your mornings?", ["morning pages"]),
    "review_habit": ("habit", "When do you do your weekly review?", ["Sunday"]),
}
OPINION_QUESTIONS: dict[str, tuple[str, list[str]]] = {
    OPINIONS[0]: ("What happens to big pull requests?", ["approved"]),
    OPINIONS[1]: ("How should estimates be given?", ["range"]),
    OPINIONS[2]: ("What is a meeting without an agenda?", ["calendar invite"]),
    OPINIONS[3]: ("Which database is right for most small tools?", ["SQLite"]),
    OPINIONS[4]: ("What do you write before fixing a bug?", ["failing test"]),
    OPINIONS[5]: ("What do you think of boring technology?", ["feature"]),
    OPINIONS[6]: ("What outlives every app?", ["plain text"]),
    OPINIONS[7]: ("What should a log message say?", ["what happened"]),
}
# Where she lives changes during the sample period (life_events.FACT_HISTORY).
HISTORY_QUESTIONS: dict[str, str] = {"home_city": "Where do you live?"}

START_DATE = "2026-06-01"
END_DATE = "2026-10-31"

# Words that show each fact is stated in her own writing (the vault and episodic
# memories), not only in the manifest: tests check every one occurs.
FACT_EVIDENCE = {
    "job": ["Kestrel Freight", "backend engineer", "logistics company"],
    "hometown": ["I'm from Bergen"],
    "side_project": ["I'm building Tidewatch, a tide app for sea kayakers"],
    "database_choice": ["Decided: SQLite for Tidewatch"],
    "race": ["Maas half marathon on 18 October"],
    "language": ["Dutch B1 exam on 24 September"],
    "starter": ["Gus is my starter"],
    "sister": ["My sister"],
    "team_lead": ["Priya, who leads the team"],
    "editor": ["I use Neovim"],
    "morning_habit": ["morning pages at 6:30"],
    "review_habit": ["weekly review every Sunday evening"],
}
