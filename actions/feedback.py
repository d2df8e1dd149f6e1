"""Feedback, suggestions and scores given outside a survey: thanked, and recorded."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    answers_what_is_wrong,
    channel_of,
    first_entity_value,
    latest_intent,
    latest_parse,
    latest_text,
    satisfaction_of,
)
from actions.contact import answer_cancellation
from actions.intake import FORM as INTAKE_FORM
from actions.intake import stray_number
from actions.messages import say
from actions.reopening import chase_or_file
from actions.services import get_services
from actions.status import answer_withdrawal
from actions.surveys import add_to_answer, correct_score, heard, record_answer
from bot.cases.intake import is_angry, names_misconduct
from bot.surveys.rules import fails_again

logger = logging.getLogger(__name__)

KIND_BY_INTENT = {"give_feedback": "feedback", "suggest": "suggestion", "give_rating": "rating"}


class ActionRecordFeedback(Action):
    def name(self) -> str:
        return "action_record_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if answers_what_is_wrong(tracker):  # "制冷效果差" to "请问空调遇到了什么问题？" was thanked for
            return [FollowupAction(INTAKE_FORM)]
        intent = latest_intent(tracker) or "give_feedback"
        kind = KIND_BY_INTENT.get(intent, "feedback")
        stray = stray_number(dispatcher, tracker) if kind == "rating" else None
        if stray is not None:  # "1" at the order question is no score
            return stray
        rating = first_entity_value(tracker, "rating")
        rating = rating if isinstance(rating, int) and 1 <= rating <= 5 else None
        label, _ = heard(tracker)  # "满意个鬼" is no praise here either (it was thanked for)
        text = latest_text(tracker)
        services = await get_services()
        if kind in ("rating", "feedback"):
            # A score or a verdict while a survey awaits one (or lately expired) answers the survey.
            survey = await services.surveys.awaiting_answer(tracker.sender_id)
            if survey is not None:
                return await record_answer(
                    dispatcher,
                    tracker,
                    survey_id=survey.id,
                    rating=rating,
                    comment=None if text.startswith("/") else text,
                )
        if kind != "rating" and tracker.active_loop_name is None:
            # "师傅已经修好了" from a customer with an open case was thanked as feedback, the case left open
            if await answer_withdrawal(dispatcher, tracker):
                return []
            # "能不能快点" from a customer with an open case was thanked as a suggestion: a chase.
            chased = await chase_or_file(dispatcher, tracker, domain)  # "能不能快点送到": filed
            if chased is not None:
                return chased
            if answer_cancellation(dispatcher, tracker):  # "能不能把订单取消了" was thanked as a suggestion
                return []
        if kind == "rating" and rating is not None:
            corrected = await correct_score(dispatcher, tracker, rating)
            if corrected is not None:
                return corrected
        if kind != "rating" and tracker.active_loop_name is None and not text.startswith("/"):
            # "对了，下次能不能提前打电话" just after a survey was answered: more of that answer
            lately = await services.surveys.answered_lately(tracker.sender_id)
            if lately is not None:
                return await add_to_answer(dispatcher, tracker, services, lately, text)
        if kind in ("feedback", "rating") and (names_misconduct(text, label) or fails_again(text)):
            # Not "您的反馈已记录": the intake files it, with the words as the description. The fault
            # back after a visit ("马桶堵了，师傅昨天刚通过") is praise to the satisfaction model.
            return [FollowupAction("complaint_form")]
        try:
            await services.feedback.record(
                sender_id=tracker.sender_id,
                channel=channel_of(tracker),
                kind=kind,
                text=text,
                rating=rating,
                satisfaction=label,
            )
        except Exception:
            logger.exception("could not record %s from %s", kind, tracker.sender_id)
        if is_angry(text, *satisfaction_of(latest_parse(tracker))):
            from actions.handoff import hand_to_a_person

            say(dispatcher, "angry_no_case")
            return await hand_to_a_person(dispatcher, tracker, "angry")
        if kind == "suggestion":
            say(dispatcher, "thanks_for_suggestion")
        elif kind == "rating" and rating is not None:
            say(dispatcher, "thanks_for_rating", rating=rating)
            if rating <= 2:
                say(dispatcher, "sorry_for_feedback")
        elif label == "dissatisfied":
            say(dispatcher, "sorry_for_feedback")
        else:
            say(dispatcher, "thanks_for_feedback")
        return []
