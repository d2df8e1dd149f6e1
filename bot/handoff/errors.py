"""Typed handoff errors; the console turns them into 403/404/409."""

from __future__ import annotations


class HandoffError(Exception):
    pass


class HandoffNotFound(HandoffError):
    pass


class AlreadyTaken(HandoffError):
    """Somebody else accepted it first (or it is no longer waiting)."""


class NotYourConversation(HandoffError):
    """An agent tried to act on a conversation another agent holds."""


class InvalidTransfer(HandoffError):
    """To nobody, to an inactive agent, or to the agent who already holds it."""


class AlreadyInConversation(HandoffError):
    """The customer is already waiting for or talking with a person: use that conversation."""

    def __init__(self, handoff_id: int) -> None:
        super().__init__(str(handoff_id))
        self.handoff_id = handoff_id
