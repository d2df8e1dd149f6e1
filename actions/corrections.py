"""An order number or a phone sent after the complaint was filed ("订单号发错了，应该是JD…",
"我换手机号了，新号码139…") corrects the customer's open case. It used to get "请问您是要投诉反映问题，
还是查询之前投诉的进度呢？" and the case kept the wrong number for the agent to call."""

from __future__ import annotations

import logging

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import first_entity_value
from actions.messages import say
from actions.services import get_services
from bot.cases.errors import CaseNotFound
from bot.cases.model import Case
from bot.nlu.patterns import mask_phone, normalise_order_id, normalise_phone

logger = logging.getLogger(__name__)


async def _case_to_correct(tracker: Tracker) -> Case | None:
    """The open case the customer named, else their newest open one."""
    services = await get_services()
    named = first_entity_value(tracker, "case_number")
    if named:
        try:
            case = await services.cases.case_for_customer(tracker.sender_id, str(named))
        except CaseNotFound:
            return None
        return case if case.is_open else None
    cases = await services.cases.open_cases_for(tracker.sender_id)  # newest first
    return cases[0] if cases else None


async def answer_correction(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """True if the message corrected (or completed) an open case and was answered."""
    order = normalise_order_id(str(first_entity_value(tracker, "order_id") or ""))
    phone = normalise_phone(str(first_entity_value(tracker, "phone") or ""))
    if not order and not phone:
        return False
    try:
        case = await _case_to_correct(tracker)
        if case is None:
            return False
        services = await get_services()
        await services.cases.correct_details(
            case.number, actor=f"customer:{tracker.sender_id}", order_id=order, phone=phone
        )
    except Exception:
        logger.exception("could not correct %s's case", tracker.sender_id)
        say(dispatcher, "status_unavailable")
        return True
    changes = [f"订单号改为 {order}"] if order else []
    changes += [f"联系电话改为 {mask_phone(phone)}"] if phone else []
    say(dispatcher, "case_details_corrected", case_number=case.number, changes="，".join(changes))
    return True
