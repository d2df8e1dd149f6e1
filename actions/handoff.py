"""Handing the conversation to a person: queue it, tell the customer where they stand, pause the bot."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import bot_words_before, channel_of, latest_intent, latest_text, words_behind
from actions.contact import answer_contact_question
from actions.intake import FORM as INTAKE_FORM
from actions.intake import hand_over_intake, reset_intake
from actions.messages import say
from actions.services import get_services
from bot.handoff.rules import asks_only_about_hours, describe_hours

logger = logging.getLogger(__name__)


async def hand_to_a_person(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    *,
    case_number: str | None = None,
    priority: str | None = None,
) -> list[EventType]:
    """Queue for a person and pause the bot; if that fails, say so and stay with the customer."""
    services = await get_services()
    try:
        ticket = await services.handoffs.request(
            tracker.sender_id,
            channel_of(tracker),
            reason,
            case_number=case_number,
            priority=priority,
            summary=words_behind(tracker)[:200],
        )
    except Exception:
        logger.exception("could not queue %s for a person", tracker.sender_id)
        say(dispatcher, "handoff_failed")
        return []
    say(dispatcher, f"handoff_{ticket.situation}", **ticket.wording(services.cases.tz))
    # Paused: from here the bot says nothing; the customer's messages go to the agent.
    return [SlotSet("human_offered", False), ConversationPaused()]


OFFER = "需要人工客服现在就和您沟通吗"


def _offer_just_made(tracker: Tracker) -> bool:
    """Whether the bot's last words before this message offered a person."""
    return OFFER in (bot_words_before(tracker) or "")


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if latest_intent(tracker) == "affirm" and not _offer_just_made(tracker):
            # "好的" to something said later than the offer ("还有什么可以帮您？"): the offer stood
            # since a bad survey answer, and a plain yes hours later queued the customer for a person.
            dispatcher.utter_message(response="utter_anything_else")
            # No rule follows a yes once the offer is withdrawn: the policies fell back ("抱歉，我还是
            # 没有理解") and queued the customer for a person after all. The bot waits instead.
            return [SlotSet("human_offered", False), FollowupAction("action_listen")]
        if asks_only_about_hours(latest_text(tracker)):
            # "人工客服什么时候在？" queued the customer and filed a case for a question.
            handoffs = (await get_services()).handoffs
            key = "opening_hours_open_now" if handoffs.in_hours_now() else "opening_hours_closed_now"
            say(dispatcher, key, hours=describe_hours(handoffs.policy))
            return []
        if await answer_contact_question(dispatcher, tracker, only_with_hotline=True):
            # "你们的客服电话是多少" queued the customer for a person; with a hotline set, it is given.
            return []
        reason = "survey_bad" if tracker.get_slot("human_offered") else "customer_request"
        if tracker.active_loop_name != INTAKE_FORM:
            return await hand_to_a_person(dispatcher, tracker, reason)
        return await leave_intake_for_a_person(dispatcher, tracker, reason)


async def leave_intake_for_a_person(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    *,
    with_words: bool = False,
    case_message: str = "intake_case_created",
) -> list[EventType]:
    """A person asked for during the intake. What the customer described (and, ``with_words``, this
    message) is kept as a case the agent starts from. With nothing described the agent takes it from
    here, and the intake ends so that after the hand-back the bot does not take the customer's next
    words for the description it was asking for."""
    if with_words or tracker.get_slot("complaint_description"):
        return await hand_over_intake(
            dispatcher, tracker, reason, with_words=with_words, case_message=case_message
        )
    handed = await hand_to_a_person(dispatcher, tracker, reason)
    return [*reset_intake(), ActiveLoop(None), *handed] if handed_over(handed) else handed


def handed_over(events: list[EventType]) -> bool:
    """The conversation was paused for a person (not refused: the queue may have failed)."""
    return any(isinstance(e, dict) and e.get("event") == "pause" for e in events)
