"""How to reach the business, and what only a person there can do: "你们的客服电话是多少" and
"帮我取消订单" are answered wherever the model put them.

The model reads such questions as a request for a person, out of scope, a complaint ("投诉电话多少")
or nothing at all: they got a queue place, "这个我帮不上忙", the intake's first question or "您是想打个
招呼吗？". The rule is plain Python (``bot.handoff.rules.asks_how_to_reach_us``); this module is the
one answer every action that may receive one gives.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import latest_text
from actions.messages import say
from actions.services import get_services
from bot.cases.intake import only_cancels
from bot.handoff.rules import asks_how_to_reach_us


async def answer_contact_question(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, only_with_hotline: bool = False
) -> bool:
    """True if the latest message asked how to reach us and was answered. ``only_with_hotline``: with
    no hotline configured, leave the message to the caller (a request for a person still gets one)."""
    text = latest_text(tracker)
    if text.startswith("/") or not asks_how_to_reach_us(text):
        return False
    hotline = (await get_services()).settings.hotline
    if hotline:
        say(dispatcher, "contact_hotline", hotline=hotline)
    elif only_with_hotline:
        return False
    else:
        say(dispatcher, "contact_here")
    return True


def answer_cancellation(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """True if the latest message only asked to call off an order or a booking, and was told that a
    person does that. "我要取消我的订单" was filed as a complaint ("非常抱歉给您添麻烦了，我马上帮您登记
    投诉"), "能不能把订单取消了" thanked as a suggestion."""
    text = latest_text(tracker)
    if text.startswith("/") or not only_cancels(text):
        return False
    say(dispatcher, "cancel_needs_person")
    return True
