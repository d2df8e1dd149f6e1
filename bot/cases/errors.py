"""Typed case errors; actions turn them into polite utterances and the API into HTTP statuses."""

from __future__ import annotations


class CaseError(Exception):
    """Base for everything the case rules or service refuse."""


class IllegalTransition(CaseError):
    def __init__(self, number: str, current: str, requested: str) -> None:
        super().__init__(f"case {number}: cannot go from {current} to {requested}")
        self.number = number
        self.current = current
        self.requested = requested


class CaseNotFound(CaseError):
    """Unknown number, or a case that belongs to somebody else: the two look the same on purpose."""

    def __init__(self, number: str) -> None:
        super().__init__(f"no such case: {number}")
        self.number = number


class InvalidCaseData(CaseError):
    """A draft that must not become a case (unknown category, bad phone)."""
