"""Rasa input/output channels."""
