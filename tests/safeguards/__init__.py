"""Tests of the judicial safeguards."""
