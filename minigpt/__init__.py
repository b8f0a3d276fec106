"""minigpt: a small, readable GPT for the course."""

__version__ = "0.1.0"
