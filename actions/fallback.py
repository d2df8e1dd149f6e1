"""Two-stage fallback in Chinese: "您是想…吗？" with the likeliest intents as buttons."""

from __future__ import annotations

import json

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import answers_what_is_wrong, ask_what_went_wrong, latest_text, vents
from actions.contact import answer_cancellation, answer_contact_question
from actions.messages import say
from actions.reopening import chase_or_file
from actions.status import answer_withdrawal, says_solved
from bot.cases.intake import asks_for_time
from bot.surveys.rules import doubts_the_sender

INTENT_LABELS = {
    "complain": "投诉或反映问题",
    "ask_case_status": "查询投诉进度",
    "request_human": "转人工客服",
    "give_feedback": "评价我们的服务",
    "suggest": "提建议",
    "give_rating": "给服务打分",
    "greet": "打个招呼",
    "thank": "表示感谢",
    "goodbye": "结束对话",
    "bot_challenge": "确认是不是机器人",
    # No "inform" ("提供信息"): "您是想提供信息吗？" means nothing to a customer, and a "yes" to it went
    # nowhere; a complaint that quoted its waybill number ("快递显示已签收但我没收到，单号SF…") was lost.
}
SKIP = {"nlu_fallback", "out_of_scope", "affirm", "deny"}


def guesses(parse: dict) -> list[str]:
    """What the bot offers for a message it is unsure of, likeliest first."""
    ranking = parse.get("intent_ranking") or []
    return [r["name"] for r in ranking if r.get("name") in INTENT_LABELS and r["name"] not in SKIP]


class ActionDefaultAskAffirmation(Action):
    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if answers_what_is_wrong(tracker):  # "声音很大" to "请问冰箱遇到了什么问题？"
            return [ActiveLoop(None), FollowupAction("complaint_form")]
        if tracker.active_loop_name is None and ask_what_went_wrong(dispatcher, tracker):  # "我家空调"
            return [ActiveLoop(None), FollowupAction("action_listen")]
        if await answer_contact_question(dispatcher, tracker):  # "售后电话" got "您是想打个招呼吗？"
            return [ActiveLoop(None), FollowupAction("action_listen")]
        if tracker.active_loop_name is None and answer_cancellation(dispatcher, tracker):
            return [ActiveLoop(None), FollowupAction("action_listen")]
        if await answer_withdrawal(dispatcher, tracker):  # "问题解决了" got "您是想评价我们的服务吗？"
            return [ActiveLoop(None), FollowupAction("action_listen")]
        if says_solved(tracker):  # and nothing open: "问题解决了" is good news, not a riddle to guess at
            say(dispatcher, "solved_nothing_open")
            return [ActiveLoop(None), FollowupAction("action_listen")]
        if doubts_the_sender(latest_text(tracker)):  # "你们是不是骗子" got "您是想确认是不是机器人吗？"
            say(dispatcher, "who_we_are")
            return [ActiveLoop(None), FollowupAction("action_listen")]
        # "能不能快点，急用网络上班" from a customer with an open case got "您是想提建议吗？": a chase,
        # answered with the case's status; the events close the fallback's loop.
        chased = await chase_or_file(dispatcher, tracker, domain)  # or "快点发货" with nothing open
        if chased is not None:
            return chased
        if tracker.active_loop_name not in ("complaint_form", "survey_form") and vents(tracker):
            # "气死我了" got "您是想投诉或反映问题吗？": the intake asks what happened, or calls a person
            return [ActiveLoop(None), FollowupAction("complaint_form")]
        candidates = guesses(tracker.latest_message)
        entities = {e["entity"]: e["value"] for e in tracker.latest_message.get("entities") or []}
        payload_entities = json.dumps(entities, ensure_ascii=False) if entities else ""
        buttons = [
            {"title": INTENT_LABELS[name], "payload": f"/{name}{payload_entities}"} for name in candidates[:2]
        ]
        buttons.append({"title": "都不是", "payload": "/out_of_scope"})
        if candidates:
            say(dispatcher, "ask_affirm_intent", intent_label=INTENT_LABELS[candidates[0]], buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_ask_rephrase")
        return []


def _fell_back_on_previous_message(tracker: Tracker, action: str) -> bool:
    """Whether ``action`` answered the customer's message before this one."""
    users = [i for i, e in enumerate(tracker.events) if e.get("event") == "user"]
    if len(users) < 2:
        return False
    between = tracker.events[users[-2] + 1 : users[-1]]
    return any(e.get("event") == "action" and e.get("name") == action for e in between)


class ActionDefaultFallback(Action):
    """Misunderstood twice in a row: a person takes over rather than a third guess."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        from actions.handoff import hand_to_a_person, leave_intake_for_a_person
        from actions.intake import FORM

        if tracker.active_loop_name == FORM:
            # A message the intake could not place used to call a person at once, and the complaint
            # taken so far (description, order, phone) was lost. Once, the question is asked again;
            # twice in a row, a person takes over from a case holding what was given.
            if asks_for_time(latest_text(tracker)):  # "嗯，我想一下" to the summary
                say(dispatcher, "intake_take_your_time")
                return [FollowupAction(FORM)]
            if not _fell_back_on_previous_message(tracker, self.name()):
                say(dispatcher, "intake_not_placed")
                return [FollowupAction(FORM)]
            if not tracker.get_slot("complaint_description"):  # nothing to file: a person takes it
                say(dispatcher, "default")
            return await leave_intake_for_a_person(
                dispatcher, tracker, "misunderstood", case_message="intake_misunderstood"
            )
        say(dispatcher, "default")
        return [UserUtteranceReverted(), *await hand_to_a_person(dispatcher, tracker, "misunderstood")]
