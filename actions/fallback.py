"""Two-stage fallback in Chinese: "您是想…吗？" with the likeliest intents as buttons."""

from __future__ import annotations

import json

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.messages import say

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
    "inform": "提供信息",
}
SKIP = {"nlu_fallback", "out_of_scope", "affirm", "deny"}


class ActionDefaultAskAffirmation(Action):
    def name(self) -> str:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        candidates = [r["name"] for r in ranking if r.get("name") in INTENT_LABELS and r["name"] not in SKIP]
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


class ActionDefaultFallback(Action):
    """Misunderstood twice in a row: a person takes over rather than a third guess."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        from actions.handoff import hand_to_a_person

        say(dispatcher, "default")
        return [UserUtteranceReverted(), *await hand_to_a_person(dispatcher, tracker, "misunderstood")]
