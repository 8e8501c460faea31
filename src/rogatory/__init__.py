"""Rogatory: cross-border judicial cooperation against cybercrime."""

__version__ = "0.1.0"
