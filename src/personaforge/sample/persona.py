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
