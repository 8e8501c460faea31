"""Cross-border requests: their lifecycle, deadlines, service verbs, API and CLI."""
