"""Case status questions: "我的投诉怎么样了" lists open cases; a number looks one up. Questions the bot
cannot answer about a case under way go onto that case."""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    ask_what_went_wrong,
    first_entity_value,
    latest_intent,
    latest_parse,
    latest_text,
    satisfaction_of,
    vents,
)
from actions.contact import answer_cancellation, answer_contact_question
from actions.messages import render, say
from actions.reopening import chase_or_file, files_the_chase
from actions.services import get_services
from actions.surveys import asked_too_soon, pictures_for_the_score
from bot.cases.errors import CaseNotFound
from bot.cases.intake import (
    asks_about_the_service,
    asks_for_arrival_time,
    asks_for_case_number,
    is_urging,
    praises,
    stops_complaining,
    withdraws_complaint,
)
from bot.cases.model import CATEGORY_LABELS, STATUS_LABELS, Case, Priority
from bot.cases.rules import latest_finished, next_deadline, normalise_case_number
from bot.cases.service import CaseService
from bot.handoff.rules import asks_about_opening_hours, describe_hours
from bot.nlu.patterns import english_words
from bot.surveys.rules import doubts_the_sender, names_device_fault, says_problem_gone
from bot.timefmt import format_local

logger = logging.getLogger(__name__)
MAX_LISTED = 5
#: Enough English words to be written in English, not an "ok" or a "thx" in a Chinese chat.
ENGLISH_SENTENCE = 3


def describe(case: Case, tz: tzinfo, now: datetime, *, withdrawn: bool = False) -> str:
    """One case as the customer sees it: never internal notes, owners or other customers.
    ``withdrawn``: the customer took it back, and is told that is where it stands."""
    lines = [
        f"编号 {case.number}（{CATEGORY_LABELS.get(case.category, case.category)}）",
        f"状态：{STATUS_LABELS[case.status]}",
        f"优先级：{case.priority.label}",
        f"登记时间：{format_local(case.created_at, tz)}",
    ]
    if case.is_open and withdrawn:
        lines.append(render("status_withdrawal_pending"))
    elif case.is_open:
        if case.first_responded_at is None:
            due, what = case.first_response_due, "联系您"
        else:
            due, what = case.resolution_due, "处理完毕"
        if now > due:
            lines.append(render("status_overdue", due=format_local(due, tz), what=what))
        else:
            lines.append(render("status_expected", due=format_local(due, tz), what=what))
    elif case.resolved_at is not None:
        lines.append(f"解决时间：{format_local(case.resolved_at, tz)}")
    return "\n".join(lines)


def _asked_number(tracker: Tracker) -> str | None:
    """The case number in the latest message, written the way cases are numbered."""
    raw = first_entity_value(tracker, "case_number")
    return (normalise_case_number(str(raw)) or str(raw)) if raw else None


#: Intents that may tell the bot the problem went away; a complaint or a request for a person says more.
_MAY_SAY_SOLVED = frozenset(
    {"deny", "affirm", "inform", "thank", "give_feedback", "nlu_fallback", "ask_case_status"}
)


def says_solved(tracker: Tracker) -> bool:
    """ "师傅已经修好了" / "问题解决了" / "已经没事了，不用派人了" outside a form, from a customer who is
    not displeased: the problem they reported is gone. It got "您是想评价我们的服务吗？" or "谢谢您的反馈"
    and the case stayed open in the agents' worklist, due for a call about a problem that was no more."""
    text = latest_text(tracker)
    if text.startswith("/") or tracker.active_loop_name or latest_intent(tracker) not in _MAY_SAY_SOLVED:
        return False
    label, _ = satisfaction_of(latest_parse(tracker))
    return label != "dissatisfied" and says_problem_gone(text)


async def answer_withdrawal(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """ "我想撤销刚才的投诉，问题已经解决了" got "这个我帮不上忙". The words go on the case for the
    agent who closes it (the workflow lets only an agent resolve a case); True if this answered.
    A problem gone ("已经修好了") is answered the same way when the customer has an open case; with
    none, False: the message is answered as it would have been (feedback, a "no")."""
    text = latest_text(tracker)
    withdrawal = not text.startswith("/") and (
        withdraws_complaint(text) or (tracker.active_loop_name is None and stops_complaining(text))
    )
    if not withdrawal and not says_solved(tracker):
        return False
    services = await get_services()
    number = _asked_number(tracker) if withdrawal else None
    try:
        if number:
            try:
                cases = [await services.cases.case_for_customer(tracker.sender_id, number)]
            except CaseNotFound:
                say(dispatcher, "case_not_found", case_number=number)
                return True
            if not cases[0].is_open:
                say(
                    dispatcher, "withdraw_not_open", case_number=number, status=STATUS_LABELS[cases[0].status]
                )
                return True
        else:
            cases = await services.cases.open_cases_for(tracker.sender_id)
        if not cases:
            if not withdrawal:
                return False
            say(dispatcher, "withdraw_nothing_open")
        elif len(cases) > 1:
            numbers = "、".join(c.number for c in cases[:MAX_LISTED])
            which = "withdraw_which" if withdrawal else "solved_which"
            say(dispatcher, which, count=len(cases), numbers=numbers, example=cases[0].number)
        else:
            # a withdrawal either way: the console flags it, and its resolution is not followed by a survey
            await services.cases.add_customer_words(
                cases[0].number,
                f"{'客户要求撤销投诉' if withdrawal else '客户说问题已经解决'}：{text}",
                actor=f"customer:{tracker.sender_id}",
                withdrawal=True,
            )
            say(dispatcher, "withdraw_noted" if withdrawal else "solved_noted", case_number=cases[0].number)
    except Exception:
        logger.exception("could not record that %s withdrew a complaint", tracker.sender_id)
        say(dispatcher, "status_unavailable")
    return True


class ActionCaseStatus(Action):
    def name(self) -> str:
        return "action_case_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if await answer_withdrawal(dispatcher, tracker):  # "取消我的投诉" sounds like a status question
            return []
        services = await get_services()
        tz = services.cases.tz
        now = services.cases.now()
        number = _asked_number(tracker)
        try:
            if number:
                try:
                    case = await services.cases.case_for_customer(tracker.sender_id, number)
                except CaseNotFound:
                    say(dispatcher, "case_not_found", case_number=number)
                    return []
                (case,), urged = await _urge(tracker, [case])
                withdrawn = await _withdrawn(services.cases, [case])
                dispatcher.utter_message(text=describe(case, tz, now, withdrawn=bool(withdrawn)) + urged)
                return []
            cases = await services.cases.open_cases_for(tracker.sender_id)
        except Exception:
            logger.exception("status lookup failed for %s", tracker.sender_id)
            say(dispatcher, "status_unavailable")
            return []
        if not cases:
            filed = files_the_chase(tracker) if tracker.active_loop_name is None else None
            if filed is not None:
                return filed  # "快点退款": nothing to chase, so it is filed
            if asks_for_arrival_time(latest_text(tracker)):
                say(dispatcher, "arrival_unknown")  # not "您目前没有处理中的投诉"
                return []
            await _none_open(
                dispatcher,
                services.cases,
                tracker.sender_id,
                now,
                filing=_filing(tracker),
                number_asked=asks_for_case_number(latest_text(tracker)),
            )
            return []
        shown, urged = await _urge(tracker, cases[:MAX_LISTED])
        header = f"您有 {len(cases)} 个处理中的投诉" + (
            f"，最近的 {MAX_LISTED} 个：" if len(cases) > MAX_LISTED else "："
        )
        # One message, not several: WeChat counts every message against a small allowance.
        withdrawn = await _withdrawn(services.cases, shown)
        described = [describe(c, tz, now, withdrawn=c.number in withdrawn) for c in shown]
        listing = "\n—————\n".join([header, *described])
        dispatcher.utter_message(text=listing + urged)
        return []


async def _withdrawn(cases: CaseService, among: list[Case]) -> set[str]:
    """ "已经没事了" went on the case, and the next status question still promised a call by
    tomorrow, as if nothing had been said. A failed lookup only loses that line."""
    still_open = [c for c in among if c.is_open]
    try:
        return await cases.withdrawn_among(still_open) if still_open else set()
    except Exception:
        logger.exception("could not look up withdrawals among %s", [c.number for c in among])
        return set()


def _filing(tracker: Tracker) -> bool:
    """A complaint is being described: the intake runs and has the problem."""
    return tracker.active_loop_name == "complaint_form" and bool(tracker.get_slot("complaint_description"))


async def _none_open(
    dispatcher: CollectingDispatcher,
    cases: CaseService,
    sender_id: str,
    now: datetime,
    *,
    filing: bool = False,
    number_asked: bool = False,
) -> None:
    """ "我的投诉怎么样了" the day after a case was resolved got "您目前没有处理中的投诉", as if
    there had never been one: the latest case finished in the last RECENTLY_FINISHED is named.
    ``filing``: asked in the middle of an intake, which "直接描述给我就可以登记" ignored.
    ``number_asked``: "我没收到编号" got that same answer, which neither gave a number nor said why
    there was none (a complaint made by phone is not on record here)."""
    try:
        theirs = await cases.cases_for(sender_id)  # newest first
    except Exception:
        logger.exception("could not look up %s's finished cases", sender_id)
        theirs = None
    finished = latest_finished(theirs, now) if theirs else None
    finished_at = finished.finished_at if finished is not None else None
    if finished is None or finished_at is None:
        if not (number_asked and not filing and theirs is not None):
            say(dispatcher, "no_open_cases_filing" if filing else "no_open_cases")
        elif not theirs:
            say(dispatcher, "no_case_number_here")
        else:
            say(
                dispatcher,
                "no_open_cases_latest",
                case_number=theirs[0].number,
                category=CATEGORY_LABELS.get(theirs[0].category, theirs[0].category),
                status=STATUS_LABELS[theirs[0].status],
            )
        return
    say(
        dispatcher,
        "no_open_cases_recent",
        case_number=finished.number,
        category=CATEGORY_LABELS.get(finished.category, finished.category),
        when=format_local(finished_at, cases.tz),
        status=STATUS_LABELS[finished.status],
    )


async def _urge(tracker: Tracker, cases: list[Case]) -> tuple[list[Case], str]:
    """ "能不能快点处理": the chase goes on the open cases' records for the agents to see, and the
    customer is told so. A plain status question records nothing. Returns the cases as they are
    after the chase (its words may have raised them) and what to add to the answer."""
    text = latest_text(tracker)
    if not any(c.is_open for c in cases) or text.startswith("/") or not is_urging(text):
        return cases, ""
    services = await get_services()
    after, raised = [], []
    try:
        for case in cases:
            if case.is_open:
                chased = await services.cases.record_urging(
                    case.number, text, actor=f"customer:{tracker.sender_id}"
                )
                if chased.priority.rank < case.priority.rank:
                    raised.append(chased)
                case = chased
            after.append(case)
    except Exception:
        logger.exception("could not record that %s chased their cases", tracker.sender_id)
        return cases, ""
    if not raised:
        return after, "\n" + render("status_urged")
    case = raised[0]  # one message names the new priority of the first; the others rose with it
    owes, due = next_deadline(case)
    what = "联系您" if owes == "first_response" else "处理完毕"
    promise = render("status_expected", due=format_local(due, services.cases.tz), what=what)
    label = case.priority.label
    said = render("status_urged_raised", case_number=case.number, priority=label, promise=promise)
    safety = "\n" + render("safety_first") if case.priority is Priority.P1 else ""
    return after, f"{safety}\n{said}"


class ActionCannotHelp(Action):
    """Something the bot cannot answer. "师傅几点到？" right after an agent promised a visit got
    "抱歉，这个我帮不上忙" and reached nobody: a question about the service, from a customer with an
    open case, now goes onto that case (its description and history) for the person handling it;
    asked during a survey by a customer with none, it opens one about the surveyed service."""

    def name(self) -> str:
        return "action_cannot_help"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.active_loop_name == "complaint_form":
            await _cannot_help_in_intake(dispatcher, tracker)
            return []  # the intake asks its question again next
        in_survey = (tracker.active_loop or {}).get("name") == "survey_form"
        if in_survey and (pictures_for_the_score(tracker) or asked_too_soon(tracker)):
            return []  # the survey form takes it next
        text = latest_text(tracker)
        if english_words(text) >= ENGLISH_SENTENCE:
            # "my package hasn't arrived" got "抱歉，这个我帮不上忙"; the customer may not read that
            say(dispatcher, "english_only")
            return []
        if not in_survey and ask_what_went_wrong(dispatcher, tracker):  # "我家空调" got "这个我帮不上忙"
            return []
        label, _ = satisfaction_of(latest_parse(tracker))
        if not in_survey and praises(text) and label != "dissatisfied":
            from actions.feedback import ActionRecordFeedback  # thanked and recorded as feedback

            return await ActionRecordFeedback().run(dispatcher, tracker, domain)
        if await answer_contact_question(dispatcher, tracker):  # "怎么联系你们"
            return []
        if not in_survey and asks_for_case_number(text):  # "我的投诉编号是多少来着"
            return await ActionCaseStatus().run(dispatcher, tracker, domain)
        if not in_survey:
            # "怎么没人理我" from a customer with an open case got "这个我帮不上忙": a chase. (A question
            # like "师傅几点到？" goes onto the case below, for the person who promised the visit.)
            chased = await chase_or_file(dispatcher, tracker, domain, when_questions=False)
            if chased is not None:
                return chased
        # "帮我取消订单": a person does that (a visit of an open case to call off is noted on it above)
        if answer_cancellation(dispatcher, tracker):
            return []
        if doubts_the_sender(text):  # "你们怎么有我的微信" got "这个我帮不上忙"
            say(dispatcher, "who_we_are")
            return []
        if await answer_opening_hours(dispatcher, text):  # "你们几点下班": the bot knows that one
            return []
        number, opened = await _note_question(tracker, in_survey)
        if opened:
            say(dispatcher, "question_filed_in_survey", case_number=number)
        elif number:
            say(dispatcher, "question_noted_in_survey" if in_survey else "question_noted", case_number=number)
        elif (
            not in_survey
            and tracker.active_loop_name is None
            and (vents(tracker) or names_device_fault(text))
        ):
            # "你们这什么破服务" and "空调漏水怎么办" got "这个我帮不上忙": the intake asks what happened
            # (or, in anger, calls a person), or takes the fault as the problem
            return [FollowupAction("complaint_form")]
        else:
            response = "utter_survey_cannot_help" if in_survey else "utter_out_of_scope"
            dispatcher.utter_message(response=response)
        return []


async def _cannot_help_in_intake(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Something off the subject in the middle of an intake. It got the menu's "这个我帮不上忙…" with
    its 转人工客服 button, then the intake's question with its own buttons: two menus in a row, and
    "你们几点下班", which the bot knows, went unanswered. The intake's question follows this."""
    if await answer_contact_question(dispatcher, tracker):  # "客服电话多少"
        return
    if not await answer_opening_hours(dispatcher, latest_text(tracker)):
        say(dispatcher, "cannot_help_in_intake")


async def answer_opening_hours(dispatcher: CollectingDispatcher, text: str) -> bool:
    """True if ``text`` asked when people are there ("你们几点下班"), and was answered."""
    if not asks_about_opening_hours(text):
        return False
    policy = (await get_services()).handoffs.policy
    say(dispatcher, "opening_hours", hours=describe_hours(policy))
    return True


async def _note_question(tracker: Tracker, in_survey: bool) -> tuple[str | None, bool]:
    """The case the question went onto, and whether it was opened for it (during a survey about a
    service, by a customer with no open case)."""
    text = latest_text(tracker).strip()
    if not text or text.startswith("/") or not asks_about_the_service(text):
        return None, False
    services = await get_services()
    survey_id = tracker.get_slot("survey_id")
    try:
        cases = await services.cases.open_cases_for(tracker.sender_id)
        if cases:
            case = await services.cases.add_customer_words(
                cases[0].number, f"客户问：{text}", actor=f"customer:{tracker.sender_id}"
            )
            return case.number, False
        if in_survey and survey_id and str(survey_id).isdigit():
            opened = await services.surveys.question_asked(int(survey_id), text)
            return (opened.number, True) if opened else (None, False)
    except Exception:
        logger.exception("could not put %s's question on a case", tracker.sender_id)
    return None, False
