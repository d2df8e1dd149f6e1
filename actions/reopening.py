"""Complaints about a case the customer already has, which used to start a second intake.

A complaint that says a finished case's problem is back ("还是不脱水，根本没修好") reopens that case: the
resolution notice says "如果问题还在，直接回复描述一下，我们会继续跟进", and such a reply used to start a
new intake that asked for the order number and phone again and filed a second, unrelated case. A
complaint that chases an open case ("都三天了还没人来") is a chase of it (催办)."""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import first_entity_value, latest_text
from actions.messages import say
from actions.services import get_services
from bot.cases.intake import (
    asks_to_reschedule,
    asks_when_someone_comes,
    chases_what_is_awaited,
    is_urging,
    only_chases,
    says_still_broken,
)
from bot.cases.model import CATEGORY_LABELS, Case, Priority
from bot.cases.rules import latest_finished
from bot.cases.service import CaseService
from bot.surveys.rules import starts_new_matter
from bot.timefmt import format_local

logger = logging.getLogger(__name__)


async def _recently_finished(cases: CaseService, tracker: Tracker) -> Case | None:
    """The customer's latest case finished within RECENTLY_FINISHED, if nothing of theirs is open and
    the message names no other category than the case's."""
    theirs = await cases.cases_for(tracker.sender_id)  # newest first
    if any(c.is_open for c in theirs):
        return None  # an open case: a new complaint is a new matter, a chase is a status question
    case = latest_finished(theirs, cases.now())
    named = first_entity_value(tracker, "complaint_category")
    # A case filed as "other" (a request for a person at night) may be about anything.
    if case is None or (named not in (None, case.category) and case.category != "other"):
        return None
    return case


async def reopen_if_back(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType] | None:
    """Events that end the intake if the message reopened a case; None to go on with the intake."""
    text = latest_text(tracker)
    if text.startswith("/") or not says_still_broken(text) or starts_new_matter(text):
        return None
    services = await get_services()
    try:
        finished = await _recently_finished(services.cases, tracker)
        if finished is None:
            return None
        case = await services.cases.reopen_for_customer(
            finished.number, text, actor=f"customer:{tracker.sender_id}"
        )
    except Exception:  # the intake goes on and files a case: nothing is lost
        logger.exception("could not reopen %s's finished case", tracker.sender_id)
        return None
    if case.priority is Priority.P1:
        say(dispatcher, "safety_first")
    say(
        dispatcher,
        "case_reopened_by_customer",
        case_number=case.number,
        category=CATEGORY_LABELS.get(case.category, case.category),
        due=format_local(case.first_response_due, services.cases.tz),
    )
    from actions.intake import intake_left

    return intake_left()


async def chase_if_open(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, *, when_questions: bool = True
) -> list[EventType] | None:
    """ "都三天了还没人来" from a customer with an open case, heard as a complaint: it started a second
    intake ("有订单号或运单号的话请发给我") for the case it chased. It is answered as the status question
    it is, and the chase goes on the open cases' records; so is "什么时候派人来", without the chase.
    None to go on with the intake."""
    text = latest_text(tracker)
    # "什么时候派人来" started a second intake
    asked = is_urging(text) or (when_questions and asks_when_someone_comes(text))
    if text.startswith("/") or not asked or starts_new_matter(text):
        return None
    try:
        if not await (await get_services()).cases.open_cases_for(tracker.sender_id) and not only_chases(text):
            # A bare chase with nothing open ("我想催一下" got "您是想查询投诉进度吗？", "能不能快点" was
            # thanked as a suggestion) is told so below, with what to do instead.
            return None
    except Exception:  # the intake goes on and files a case: nothing is lost
        logger.exception("could not look up %s's open cases", tracker.sender_id)
        return None
    from actions.intake import intake_left
    from actions.status import ActionCaseStatus

    await ActionCaseStatus().run(dispatcher, tracker, domain)
    return intake_left()


async def note_visit_request(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType] | None:
    """ "师傅能不能改到明天下午来" from a customer with an open case was thanked as a suggestion ("谢谢
    您的建议！已经记录并转给相关团队参考"), and "我要改预约时间" got "您是想提建议吗？": the request
    goes onto the case for the person arranging the visit. None if it is no such request, or nothing
    is open."""
    text = latest_text(tracker).strip()
    if text.startswith("/") or not asks_to_reschedule(text) or starts_new_matter(text):
        return None
    services = await get_services()
    try:
        cases = await services.cases.open_cases_for(tracker.sender_id)
        if not cases:
            return None
        case = await services.cases.add_customer_words(
            cases[0].number, f"客户要求：{text}", actor=f"customer:{tracker.sender_id}"
        )
    except Exception:  # answered as it would have been: nothing is lost but the note
        logger.exception("could not put %s's request on their case", tracker.sender_id)
        return None
    say(dispatcher, "visit_request_noted", case_number=case.number)
    from actions.intake import intake_left

    return intake_left()


async def about_an_open_case(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, *, when_questions: bool = True
) -> list[EventType] | None:
    """A chase or a visit to move, however the model heard it; None if it is neither, or nothing is
    open. ``when_questions``: "什么时候派人来" is answered with the status too."""
    return await chase_if_open(dispatcher, tracker, domain, when_questions=when_questions) or (
        await note_visit_request(dispatcher, tracker)
    )


async def chase_or_file(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, *, when_questions: bool = True
) -> list[EventType] | None:
    """`about_an_open_case`; with nothing open, a chase that names what is awaited ("能不能快点送到",
    "快点退款") starts the intake with its words. It was thanked as a suggestion, guessed to be a
    status question, or told there was nothing to chase."""
    answered = await about_an_open_case(dispatcher, tracker, domain, when_questions=when_questions)
    return answered if answered is not None else files_the_chase(tracker)


def files_the_chase(tracker: Tracker) -> list[EventType] | None:
    """Events that start the intake with a chase that names what is awaited, for a customer with
    nothing open to chase; None if the message is no such chase, or the intake is already running."""
    text = latest_text(tracker)
    if text.startswith("/") or tracker.active_loop_name == "complaint_form":
        return None
    if not chases_what_is_awaited(text):
        return None
    return [ActiveLoop(None), FollowupAction("complaint_form")]
