"""Typed survey errors."""

from __future__ import annotations


class SurveyError(Exception):
    pass


class InvalidServiceEvent(SurveyError):
    """A service event that cannot be accepted; ``field`` names the culprit for the API's 400."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class IllegalSurveyTransition(SurveyError):
    def __init__(self, survey_id: int | None, current: str, requested: str) -> None:
        super().__init__(f"survey {survey_id}: cannot go from {current} to {requested}")
        self.current = current
        self.requested = requested


class SurveyNotFound(SurveyError):
    pass
