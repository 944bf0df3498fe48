"""personaforge: turn a person's own writing into a local model that sounds like them."""

__version__ = "0.1.0"
