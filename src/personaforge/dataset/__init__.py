"""The dataset stage: memories to curated, privacy-scrubbed, mixed and split training examples.

extract.py (memories -> examples, per kind), synth.py (teacher model), privacy.py
(secrets and PII), curate.py (filters, dedup, length, metrics), mix.py
(foundation/monthly selection, eval split), build.py (the whole pass, the
dataset folder, review).
"""

from personaforge.dataset.build import DatasetRequest, DatasetResult, build_dataset
from personaforge.dataset.mix import MixPlan

__all__ = ["DatasetRequest", "DatasetResult", "MixPlan", "build_dataset"]
