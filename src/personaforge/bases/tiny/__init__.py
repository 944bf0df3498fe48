"""The built-in tiny base: a small Llama built and pretrained offline (see build.py)."""

from personaforge.bases.tiny.build import PRESETS, ensure_tiny_base, read_card, tiny_folder

__all__ = ["PRESETS", "ensure_tiny_base", "read_card", "tiny_folder"]
