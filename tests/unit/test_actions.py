"""Actions driven as the action server drives them: a tracker in, messages and events out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import time, timedelta
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services as action_services
from actions.fallback import ActionDefaultAskAffirmation, ActionDefaultFallback
from actions.feedback import ActionRecordFeedback
from actions.handoff import ActionRequestHuman
from actions.intake import (
    NO_ORDER,
    NO_PHONE,
    ActionAskComplaintConfirmed,
    ActionAskOrderId,
    ActionAskPhone,
    ActionCancelComplaint,
    ActionRouteInform,
    ActionSubmitComplaint,
    ValidateComplaintForm,
)
from actions.messages import render
from actions.status import ActionCannotHelp, ActionCaseStatus
from bot.cases.model import Attachment, CaseDraft, Priority, Status
from bot.config import PROJECT_ROOT
from bot.handoff.rules import HandoffPolicy, describe_hours
from bot.wiring import Services
from tests.conftest import Clock
from tests.fakes import FakeUowFactory

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
DETAIL_ADDED = render("detail_added")


@pytest.fixture(autouse=True)
def wired(fake_services: Services) -> Iterator[Services]:
    action_services.use_services(fake_services)
    yield fake_services
    action_services.use_services(None)


def parsed(
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    satisfaction: tuple[str, float] | None = ("neutral", 0.9),
    confidence: float = 0.9,
) -> dict[str, Any]:
    """A message as the NLU leaves it on the tracker (a tapped payload has no satisfaction)."""
    message = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or []}
    if satisfaction is not None:
        message["satisfaction"] = {"label": satisfaction[0], "confidence": satisfaction[1]}
    return message


def tracker(
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    requested: str | None = None,
    sender: str = "wx-1",
    satisfaction: tuple[str, float] = ("neutral", 0.9),
    channel: str | None = None,
    loop: str | None = "complaint_form",
) -> Tracker:
    message = parsed(text, intent, entities, satisfaction)
    all_slots = {"requested_slot": requested, **(slots or {})}
    events = [
        {"event": "user", "text": text, "parse_data": message, "input_channel": channel},
        *([{"event": "active_loop", "name": loop}] if loop else []),
    ]
    return Tracker(
        sender, all_slots, message, events, False, None, {"name": loop} if loop else {}, "action_listen"
    )


def entity(name: str, value: Any, confidence: float = 1.0, extractor: str = "PatternEntityExtractor") -> dict:
    return {"entity": name, "value": value, "confidence_entity": confidence, "extractor": extractor}


async def validate(t: Tracker) -> tuple[dict[str, Any], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateComplaintForm().run(dispatcher, t, DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return slots, [m["text"] for m in dispatcher.messages]


#: Where the model may put a message: the action that then runs, by a short name tests parametrize on.
ACTION_RUNS = {
    "cannot_help": ActionCannotHelp,
    "fallback": ActionDefaultAskAffirmation,
    "feedback": ActionRecordFeedback,
    "human": ActionRequestHuman,
    "inform": ActionRouteInform,
    "intake": ValidateComplaintForm,
    "status": ActionCaseStatus,
}


async def run_where_put(action: str, t: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    """Run the action ``action`` names on ``t``: its events and what it said."""
    dispatcher = CollectingDispatcher()
    return await ACTION_RUNS[action]().run(dispatcher, t, DOMAIN), dispatcher


async def test_the_first_message_fills_what_it_can(wired: Services) -> None:
    slots, said = await validate(
        tracker(
            "空调修完第二天又不制冷了，电话13812345678",
            "complain",
            [
                entity("complaint_category", "installation_repair", 0.8, "ComplaintCategoryClassifier"),
                entity("phone", "13812345678"),
            ],
        )
    )
    assert slots["complaint_description"] == "空调修完第二天又不制冷了，电话13812345678"
    assert slots["complaint_category"] == "installation_repair"
    assert slots["phone"] == "13812345678"
    assert said == ["收到，非常抱歉给您添麻烦了，我马上帮您登记投诉。"]  # acknowledged once, no questions yet


def read_as_answer(text: str, guess: str, confidence: float, requested: str | None = None) -> Tracker:
    """A description the intent model took for an answer (inform), with the category model's guess."""
    t = tracker(text, "inform", requested=requested)
    t.latest_message["complaint_category_guess"] = {"value": guess, "confidence": confidence}
    return t


async def test_a_description_read_as_an_answer_keeps_the_category_it_names(wired: Services) -> None:
    # "油烟机装歪了" is inform to the intent model: the intake started, then asked for the category.
    slots, said = await validate(read_as_answer("油烟机装歪了", "installation_repair", 0.8))
    assert slots["complaint_description"] == "油烟机装歪了"
    assert slots["complaint_category"] == "installation_repair"
    assert said == ["收到，非常抱歉给您添麻烦了，我马上帮您登记投诉。"]
    answer = read_as_answer("油烟机装歪了，师傅就走了", "installation_repair", 0.8, "complaint_description")
    asked, _ = await validate(answer)
    assert asked["complaint_category"] == "installation_repair"


async def test_a_weak_or_late_category_guess_is_not_taken(wired: Services) -> None:
    weak, _ = await validate(read_as_answer("油烟机装歪了", "installation_repair", 0.3))
    assert weak.get("complaint_category") is None  # asked about instead
    # "网络问题" answers the category question: the customer's words, not the model's guess, decide.
    answered, _ = await validate(read_as_answer("网络问题", "delivery", 0.9, "complaint_category"))
    assert answered["complaint_category"] == "other"


def clarified(
    text: str,
    tapped: str,
    satisfaction: tuple[str, float] = ("dissatisfied", 0.9),
    intent: str | None = None,
) -> Tracker:
    """A message the NLU did not understand, then the customer's tap on "您是想投诉吗？"'s button,
    as Rasa's two-stage fallback leaves them: the tap, a rewind, the tap replayed."""
    original = parsed(text, "nlu_fallback", satisfaction=satisfaction, confidence=0.3)
    tap = parsed(tapped, intent or tapped.lstrip("/"), satisfaction=None, confidence=1.0)
    return answered_guess(original, tap)


def answered_guess(original: dict[str, Any], answer: dict[str, Any]) -> Tracker:
    """The misunderstood message, the bot's guess, and the answer, as Rasa's two-stage fallback
    leaves them: the answer, a rewind, the answer replayed."""
    events = [
        {"event": "user", "text": original["text"], "parse_data": original},
        {"event": "action", "name": "action_two_stage_fallback"},
        {"event": "bot", "text": "您是想投诉或反映问题吗？"},
        {"event": "user", "text": answer["text"], "parse_data": answer},
        {"event": "rewind"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": answer["text"], "parse_data": answer},
    ]
    return Tracker("wx-1", {"requested_slot": None}, answer, events, False, None, {}, "action_listen")


async def test_a_complaint_clarified_with_a_button_is_not_asked_for_again(wired: Services) -> None:
    slots, said = await validate(clarified("收到的衣服是二手的，上面还有污渍", "/complain"))
    assert slots["complaint_description"] == "收到的衣服是二手的，上面还有污渍"
    assert said == ["收到，非常抱歉给您添麻烦了，我马上帮您登记投诉。"]


def unplaced_then(first: str, then: str, *, guessed: bool, minutes_later: float = 0.2) -> Tracker:
    """A message the bot could not place (its guess "您是想投诉或反映问题吗？", or, for information,
    "收到。请问您是要投诉…"), then the problem typed instead of an answer."""
    at = 1796496443.0
    later = parsed(then, "complain", satisfaction=("dissatisfied", 0.9))
    first_event = {"event": "user", "text": first, "timestamp": at}
    then_event = {"event": "user", "text": then, "parse_data": later, "timestamp": at + minutes_later * 60}
    if guessed:
        events = [
            {**first_event, "parse_data": parsed(first, "nlu_fallback", confidence=0.3)},
            {"event": "action", "name": "action_two_stage_fallback"},
            {"event": "bot", "text": "您是想投诉或反映问题吗？"},
            then_event,
            {"event": "rewind"},
            {"event": "action", "name": "action_listen"},
            then_event,
        ]
    else:
        events = [
            {**first_event, "parse_data": parsed(first, "inform")},
            {"event": "action", "name": "action_route_inform"},
            {"event": "bot", "text": "收到。请问您是要投诉反映问题，还是查询之前投诉的进度呢？"},
            {"event": "action", "name": "action_listen"},
            then_event,
        ]
    return Tracker("wx-1", {"requested_slot": None}, later, events, False, None, {}, "action_listen")


@pytest.mark.parametrize("guessed", [True, False])
async def test_words_the_bot_could_not_place_join_the_complaint_that_follows(
    wired: Services, guessed: bool
) -> None:
    """ "我上周买的冰箱", then "今天发现不制冷了" instead of answering the bot's question: the case
    said only "今天发现不制冷了", and nobody knew what had stopped cooling."""
    slots, said = await validate(unplaced_then("我上周买的冰箱", "今天发现不制冷了", guessed=guessed))
    assert slots["complaint_description"] == "我上周买的冰箱\n今天发现不制冷了"
    assert said == ["收到，非常抱歉给您添麻烦了，我马上帮您登记投诉。"]
    later, _ = await validate(
        unplaced_then("我上周买的冰箱", "今天发现不制冷了", guessed=guessed, minutes_later=90)
    )
    assert later["complaint_description"] == "今天发现不制冷了"  # not the same conversation any more
    short, _ = await validate(unplaced_then("嗯", "今天发现不制冷了", guessed=guessed))
    assert short["complaint_description"] == "今天发现不制冷了"


async def test_a_yes_to_complain_or_status_files_the_words_before_it(wired: Services) -> None:
    """ "对" to "您是要投诉反映问题，还是查询之前投诉的进度呢？" got "好的。还有什么可以帮您的吗？", and
    "海尔的热水器，买了三年了" before it was filed nowhere."""
    t = unplaced_then("海尔的热水器，买了三年了", "对", guessed=False)
    yes = parsed("对", "affirm")
    t.latest_message, t.events[-1] = yes, {**t.events[-1], "parse_data": yes}
    dispatcher = CollectingDispatcher()
    events = await ActionRouteInform().run(dispatcher, t, DOMAIN)
    assert [e.get("name") for e in events if e["event"] == "followup"] == ["complaint_form"]
    assert dispatcher.messages == []
    slots, said = await validate(t)
    assert slots["complaint_description"] == "海尔的热水器，买了三年了"
    assert said == [render("ack_complaint")]
    plain = CollectingDispatcher()  # a yes with nothing before it is still "好的"
    await ActionRouteInform().run(plain, tracker("对", "affirm", loop=None), DOMAIN)
    assert [m.get("response") for m in plain.messages] == ["utter_anything_else"]


async def test_a_bare_yes_to_complain_adds_nothing_to_the_problem_before_it(wired: Services) -> None:
    """ "投诉" to "您是要投诉反映问题，还是…" was added to the description: "电视买回来就黑屏\n投诉"."""
    t = unplaced_then("电视买回来就黑屏", "投诉", guessed=False)
    t.latest_message["satisfaction"] = {"label": "neutral", "confidence": 0.6}
    slots, said = await validate(t)
    assert slots["complaint_description"] == "电视买回来就黑屏"
    assert said == ["收到，非常抱歉给您添麻烦了，我马上帮您登记投诉。"]


async def test_feedback_clarified_with_a_button_keeps_the_customers_words(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    dispatcher = CollectingDispatcher()
    await ActionRecordFeedback().run(dispatcher, clarified("凑合能用吧", "/give_feedback"), DOMAIN)
    (entry,) = fake_uow.store.feedback
    assert entry.text == "凑合能用吧" and entry.satisfaction == "dissatisfied"
    assert "抱歉" in dispatcher.messages[0]["text"]


async def test_information_clarified_with_a_button_that_describes_a_problem_starts_the_intake() -> None:
    from actions.intake import ActionRouteInform

    dispatcher = CollectingDispatcher()
    events = await ActionRouteInform().run(dispatcher, clarified("账单多扣了我50块钱", "/inform"), DOMAIN)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["complaint_form"]
    assert dispatcher.messages == []


async def test_a_typed_no_to_the_bots_guess_asks_for_other_words() -> None:
    """ "您是想提供信息吗？" answered "不是" got "好的。还有什么可以帮您？": the customer had nothing
    left to say yes to and had to start again."""
    from actions.intake import ActionRouteInform

    dispatcher = CollectingDispatcher()
    await ActionRouteInform().run(dispatcher, clarified("那个东西还是那样", "不是", intent="deny"), DOMAIN)
    assert [m.get("response") for m in dispatcher.messages] == ["utter_ask_rephrase"]
    plain_no = CollectingDispatcher()  # a "不是" with no guess before it is still just acknowledged
    await ActionRouteInform().run(plain_no, tracker("不是", "deny", loop=None), DOMAIN)
    assert [m.get("response") for m in plain_no.messages] == ["utter_anything_else"]


WAYBILL_COMPLAINT = "快递显示已签收，但是我没收到，快递单号是SF1402847563921"


def guessed_then_yes(
    text: str, ranking: list[tuple[str, float]], entities: list[dict] | None = None, yes: str = "确认"
) -> Tracker:
    """A message the model was unsure of, the bot's guess, and a typed yes, as Rasa leaves them."""
    original = {
        **parsed(text, "nlu_fallback", entities, confidence=0.3),
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.3}]
        + [{"name": n, "confidence": c} for n, c in ranking],
    }
    return answered_guess(original, parsed(yes, "affirm", confidence=0.99))


async def test_the_bot_never_guesses_that_a_customer_is_giving_information() -> None:
    """ "您是想提供信息吗？" means nothing to a customer; a yes to it filed nothing."""
    from actions.fallback import ActionDefaultAskAffirmation

    t = guessed_then_yes(WAYBILL_COMPLAINT, [("inform", 0.5), ("complain", 0.49), ("ask_case_status", 0.01)])
    t.latest_message = t.events[0]["parse_data"]
    dispatcher = CollectingDispatcher()
    await ActionDefaultAskAffirmation().run(dispatcher, t, DOMAIN)
    [guess] = dispatcher.messages
    assert guess["text"] == "您是想投诉或反映问题吗？"
    assert [b["title"] for b in guess["buttons"]] == ["投诉或反映问题", "查询投诉进度", "都不是"]


async def test_a_typed_yes_to_the_guess_takes_it_with_the_customers_words(wired: Services) -> None:
    """ "确认" to "您是想投诉或反映问题吗？" got "好的。还有什么可以帮您的吗？", and the complaint, waybill
    number and all, was filed nowhere."""
    from actions.intake import ActionRouteInform

    t = guessed_then_yes(
        WAYBILL_COMPLAINT,
        [("inform", 0.5), ("complain", 0.49)],
        [
            entity("complaint_category", "delivery", 0.8, "ComplaintCategoryClassifier"),
            {**entity("order_id", "SF1402847563921"), "start": 23, "end": 38},
        ],
    )
    dispatcher = CollectingDispatcher()
    events = await ActionRouteInform().run(dispatcher, t, DOMAIN)
    assert [e["name"] for e in events if e["event"] == "followup"] == ["complaint_form"]
    assert dispatcher.messages == []
    slots, said = await validate(t)  # the intake then reads the words the customer said yes to
    assert slots["complaint_description"] == WAYBILL_COMPLAINT
    assert (slots["complaint_category"], slots["order_id"]) == ("delivery", "SF1402847563921")
    assert said == ["收到，非常抱歉给您添麻烦了，我马上帮您登记投诉。"]


async def test_a_typed_yes_to_a_status_guess_answers_the_status(wired: Services) -> None:
    from actions.intake import ActionRouteInform

    t = guessed_then_yes("那个事咋样了", [("ask_case_status", 0.45), ("complain", 0.4)], yes="是的")
    dispatcher = CollectingDispatcher()
    await ActionRouteInform().run(dispatcher, t, DOMAIN)
    assert [m["text"] for m in dispatcher.messages] == [
        "您目前没有处理中的投诉。如果遇到了问题，直接描述给我就可以登记。"
    ]


async def test_a_tapped_button_alone_is_not_mistaken_for_words(wired: Services) -> None:
    tap = tracker("/complain", "complain")
    slots, said = await validate(tap)
    assert slots.get("complaint_description") is None and said == []


async def test_a_weak_category_guess_is_asked_about_instead(wired: Services) -> None:
    slots, _ = await validate(
        tracker(
            "东西有问题",
            "complain",
            [entity("complaint_category", "other", 0.2, "ComplaintCategoryClassifier")],
        )
    )
    assert "complaint_category" not in slots


async def test_a_complaint_with_nothing_in_it_names_no_category(wired: Services) -> None:
    """ "我要投诉" came back from the model as service_attitude with confidence; the fridge described
    next ("冰箱修完第二天又不制冷了") was then filed as 服务态度."""
    bare = tracker(
        "我要投诉",
        "complain",
        [entity("complaint_category", "service_attitude", 0.9, "ComplaintCategoryClassifier")],
    )
    slots, _ = await validate(bare)
    assert "complaint_category" not in slots
    described = tracker(
        "冰箱修完第二天又不制冷了",
        "complain",
        [entity("complaint_category", "installation_repair", 0.9, "ComplaintCategoryClassifier")],
        requested="complaint_description",
    )
    slots, _ = await validate(described)
    assert slots["complaint_category"] == "installation_repair"


async def test_asking_for_a_person_mid_intake_fills_no_slot(wired: Services) -> None:
    # The form must refuse the message so that the rule for a person runs, and the category the
    # complaint gave must survive words the message shares with another one.
    slots, _ = await validate(
        tracker(
            "我要找人工客服，别问了",
            "request_human",
            [entity("complaint_category", "service_attitude", 1.0, "ComplaintCategoryClassifier")],
            requested="order_id",
            slots={"complaint_description": "空调不制冷了", "complaint_category": "product_quality"},
        )
    )
    assert slots == {}


async def test_an_empty_complaint_leaves_the_description_to_be_asked(wired: Services) -> None:
    slots, said = await validate(tracker("我要投诉", "complain"))
    assert slots.get("complaint_description") is None
    assert said == []  # the form's own question follows; no scolding


async def test_a_safety_complaint_gets_safety_advice_at_once(wired: Services) -> None:
    _, said = await validate(tracker("刚装的燃气灶有煤气味", "complain"))
    assert any("关闭总阀" in s for s in said)


async def test_no_order_number_is_an_answer(wired: Services) -> None:
    slots, _ = await validate(
        tracker(
            "没有",
            "deny",
            requested="order_id",
            slots={"complaint_description": "x坏了很久", "complaint_category": "other"},
        )
    )
    assert slots["order_id"] == "none"


async def test_a_bad_phone_is_refused_with_a_hint(wired: Services) -> None:
    slots, said = await validate(tracker("123456", "inform", requested="phone"))
    assert slots["phone"] is None
    assert any("11位手机号" in s for s in said)


@pytest.mark.parametrize("requested", ["order_id", "phone"])
@pytest.mark.parametrize("text", ["好的", "确认"])
async def test_a_plain_yes_to_a_number_question_is_asked_again_without_calling_it_malformed(
    wired: Services, requested: str, text: str
) -> None:
    """ "好的" (and "确认") to the order question got "订单号格式不太对（一般是8到24位字母和数字）"."""
    slots, said = await validate(
        tracker(
            text,
            "affirm",
            requested=requested,
            slots={"complaint_description": "空调坏了很久", "complaint_category": "other"},
        )
    )
    assert slots[requested] is None and said == []  # the form's own question follows


async def test_the_customers_own_kind_of_problem_is_filed_as_other(wired: Services) -> None:
    """ "网络问题" to the category question got "已补充到问题描述里" and the menu again, every time."""
    t = tracker(
        "网络问题", "inform", requested="complaint_category", slots={"complaint_description": "宽带又断了"}
    )
    slots, _ = await validate(t)
    assert slots["complaint_category"] == "other"
    nod = tracker("对", "affirm", requested="complaint_category", slots=t.slots)
    assert (await validate(nod))[0].get("complaint_category") is None  # no answer: asked again


async def test_no_order_number_said_before_it_is_asked_is_kept(wired: Services) -> None:
    """ "没有订单号" to the category question was ignored; the order question would have come next."""
    t = tracker(
        "没有订单号", "inform", requested="complaint_category", slots={"complaint_description": "宽带又断了"}
    )
    slots, _ = await validate(t)
    assert slots["order_id"] == NO_ORDER and slots.get("complaint_category") is None
    bare = tracker("没有", "deny", requested="complaint_category", slots=t.slots)
    assert "order_id" not in (await validate(bare))[0]  # "none of these" to the menu, not the order


@pytest.mark.parametrize(
    ("text", "intent"),
    [("不知道怎么选", "out_of_scope"), ("随便吧", "affirm"), ("没有", "deny"), ("都不是", "deny")],
)
async def test_a_customer_who_cannot_say_the_category_is_not_asked_again(
    wired: Services, text: str, intent: str
) -> None:
    """ "不知道怎么选" got "抱歉，这个我帮不上忙" and the same question again; "没有" (none of them)
    left the form with nothing to take, and Rasa's rule for a "no" cancelled the whole complaint."""
    t = tracker(text, intent, requested="complaint_category", slots={"complaint_description": "东西有问题"})
    slots, said = await validate(t)
    assert slots["complaint_category"] == "other" and said == []


def menu_answered(*answers: str) -> Tracker:
    """An intake whose category menu was shown once per answer, each answer naming no category
    (as Rasa records it: the form's run, then the slot set to None for an answer not taken)."""
    problem = "宽带又断了，这个月第三次了"
    events: list[dict[str, Any]] = [
        {"event": "user", "text": problem, "parse_data": parsed(problem, "complain")},
        {"event": "active_loop", "name": "complaint_form"},
    ]
    for i, answer in enumerate(answers):
        if i:  # the answer before was not taken, and the menu came again
            events.append({"event": "slot", "name": "complaint_category", "value": None})
        events.append({"event": "user", "text": answer, "parse_data": parsed(answer, "complain")})
    slots = {"requested_slot": "complaint_category", "complaint_description": problem}
    latest = events[-1]["parse_data"]
    return Tracker("wx-1", slots, latest, events, False, None, {"name": "complaint_form"}, "action_listen")


async def test_the_category_menu_is_not_shown_for_ever(wired: Services) -> None:
    """ "投诉" to the category menu got the same menu back, as often as the customer answered it."""
    once, _ = await validate(menu_answered("投诉"))
    assert once["complaint_category"] is None  # the menu once more
    twice, said = await validate(menu_answered("投诉", "投诉"))
    assert twice["complaint_category"] == "other" and said == []  # the agent sorts it; the intake goes on


async def ask(action: Any, t: Tracker) -> list[str]:
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, t, DOMAIN)
    return [m["text"] for m in dispatcher.messages]


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("订单号找不到了", "inform", "none"),
        ("我不记得订单号", "inform", "none"),
        ("订单号我忘了", "inform", "none"),
        # The model once heard "等一下" as a request for a person, which handed the intake over.
        ("等一下我找找", "request_human", None),
        ("在拼多多买的，订单号我找找", "inform", None),
    ],
)
async def test_no_order_number_at_hand_is_not_a_malformed_one(
    wired: Services, text: str, intent: str, expected: str | None
) -> None:
    """All five got "订单号格式不太对（一般是8到24位字母和数字）"."""
    described = {"complaint_description": "电视屏幕有条竖线", "complaint_category": "product_quality"}
    t = tracker(text, intent, requested="order_id", slots=described)
    slots, said = await validate(t)
    assert slots["order_id"] == expected and said == []
    if expected is None:  # the question comes again, giving the customer time
        assert await ask(ActionAskOrderId(), t) == [
            "好的，不着急😊 找到后直接发给我就行；找不到也没关系，回复“没有”我们先登记。"
        ]


async def test_a_status_question_after_a_wait_word_is_a_digression_not_a_search(wired: Services) -> None:
    """ "等等，我先查下我的投诉进度" at the order question got "好的，不着急😊 找到后直接发给我就行"
    and no status; the status rule answers it, and the question comes back as it was."""
    described = {"complaint_description": "快递三天了还没到", "complaint_category": "delivery"}
    t = tracker("等等，我先查下我的投诉进度", "ask_case_status", requested="order_id", slots=described)
    slots, said = await validate(t)
    assert "order_id" not in slots and said == []
    assert await status_reply(t) == [  # not "如果遇到了问题，直接描述给我就可以登记" mid-filing
        "您目前没有处理中的投诉。正在登记的这条提交后会生成编号，之后随时可以查进度。我们接着登记～"
    ]
    assert await ask(ActionAskOrderId(), t) == [render("ask_order_id")]


async def status_reply(t: Tracker) -> list[str]:
    dispatcher = CollectingDispatcher()
    await ActionCaseStatus().run(dispatcher, t, DOMAIN)
    return [m["text"] for m in dispatcher.messages]


@pytest.mark.parametrize("text", ["好了，继续", "我回来了", "查完了"])
async def test_back_from_a_digression_is_no_detail_and_no_order_number(wired: Services, text: str) -> None:
    """ "好了，继续" after the status was added to the case's description ("已补充到问题描述里📝")."""
    described = {"complaint_description": "快递三天了还没到", "complaint_category": "delivery"}
    entities = [entity("complaint_category", "installation_repair", 0.6, "ComplaintCategoryClassifier")]
    t = tracker(
        text,
        "give_feedback",
        entities,
        requested="order_id",
        slots=described,
        satisfaction=("satisfied", 0.8),
    )
    slots, said = await validate(t)
    assert slots.get("complaint_description", described["complaint_description"]) == "快递三天了还没到"
    assert not slots.get("order_id") and said == []  # not "订单号格式不太对"


async def test_a_correction_instead_of_an_order_number_is_kept(wired: Services) -> None:
    """ "不对，是师傅装的时候弄坏的，算安装问题" to the order question was "not a valid order number"
    and its words were lost."""
    text = "不对，是师傅装的时候弄坏的，算安装问题"
    slots, said = await validate(
        tracker(
            text,
            "inform",
            [entity("complaint_category", "installation_repair", 0.7, "ComplaintCategoryClassifier")],
            requested="order_id",
            slots={
                "complaint_description": "新买的电视屏幕有条竖线",
                "complaint_category": "product_quality",
            },
        )
    )
    assert slots["complaint_description"] == f"新买的电视屏幕有条竖线\n{text}"
    assert slots["complaint_category"] == "installation_repair"
    assert "order_id" not in slots and said == [DETAIL_ADDED]  # no "订单号格式不太对"


async def test_the_real_problem_told_instead_of_the_category_joins_the_description(wired: Services) -> None:
    """After "我想问一下你们的退货政策" (heard as a complaint), "好吧，那我的订单JD20261130123已经签收了
    但我没收到货" to the category question kept its order number but lost its words."""
    text = "好吧，那我的订单JD20261130123已经签收了但我没收到货"
    start = text.index("JD")
    t = tracker(
        text,
        "inform",
        [{**entity("order_id", "JD20261130123"), "start": start, "end": start + 13}],
        requested="complaint_category",
        slots={"complaint_description": "我想问一下你们的退货政策"},
    )
    slots, said = await validate(t)
    assert slots["complaint_description"] == f"我想问一下你们的退货政策\n{text}"
    assert slots["order_id"] == "JD20261130123" and slots.get("complaint_category") is None
    assert said == [DETAIL_ADDED]
    named = tracker("是物流的问题", "inform", requested="complaint_category", slots=t.slots)
    assert (await validate(named))[0] == {"complaint_category": "delivery"}  # an answer, not detail
    number = "订单号是JD20261130123"
    given = tracker(
        number,
        "inform",
        [{**entity("order_id", "JD20261130123"), "start": 4, "end": 17}],
        requested="order_id",
        slots=t.slots,
    )
    assert "complaint_description" not in (await validate(given))[0]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("我不想留电话", "deny"),
        ("为什么一定要手机号", "complain"),
        ("不方便留手机号", "deny"),
        ("为什么要我电话，会不会泄露", "complain"),  # added to the description, the question again
    ],
)
async def test_a_worry_about_the_phone_is_answered_not_taken_as_cancelling(
    wired: Services, text: str, intent: str
) -> None:
    """ "我不想留电话" (a "no" to the model) cancelled the whole complaint; "为什么一定要手机号" was
    added to its description."""
    described = {"complaint_description": "电视屏幕有条竖线", "complaint_category": "product_quality"}
    t = tracker(text, intent, requested="phone", slots=described)
    slots, said = await validate(t)
    assert slots == {"phone": None} and said == []  # a slot was tried: the form goes on
    (why,) = await ask(ActionAskPhone(), t)
    assert why.startswith("理解您的顾虑。手机号只用于处理这次投诉") and "取消投诉" in why
    first = tracker(text, intent, requested="order_id", slots=described)  # asked the first time
    assert await ask(ActionAskPhone(), first) == ["请留一个能联系到您的手机号，处理人员会通过它联系您。"]


async def test_time_to_find_the_phone_is_given(wired: Services) -> None:
    """ "等下我找下手机号" got the phone question again, word for word, as if unheard."""
    described = {"complaint_description": "洗衣机漏水", "complaint_category": "product_quality"}
    t = tracker("等下我找下手机号", "inform", requested="phone", slots=described)
    slots, said = await validate(t)
    assert slots == {"phone": None} and said == []
    assert await ask(ActionAskPhone(), t) == ["好的，不着急😊 找到后直接发给我就行。"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [("手机号就是我微信绑定的那个", "inform"), ("下单的时候留过电话了", "inform"), ("之前留过了", "affirm")],
)
async def test_a_number_the_customer_thinks_we_have_is_not_called_malformed(
    wired: Services, text: str, intent: str
) -> None:
    """ "手机号就是我微信绑定的那个" got "这个号码好像不太对，请输入11位手机号": WeChat does not give the
    account the customer's phone, and nothing here can see the order's."""
    described = {"complaint_description": "宽带上不了网", "complaint_category": "other"}
    t = tracker(text, intent, requested="phone", slots=described, channel="wechat")
    slots, said = await validate(t)
    assert slots == {"phone": None} and said == []
    dispatcher = CollectingDispatcher()
    await ActionAskPhone().run(dispatcher, t, DOMAIN)
    (answer,) = dispatcher.messages
    assert answer["text"].startswith("抱歉，微信不会把您绑定的手机号告诉我们")
    assert [b["title"] for b in answer["buttons"]] == ["微信联系我"]
    web = tracker(text, intent, requested="phone", slots=described, channel="rest")
    (said_on_the_web,) = await ask(ActionAskPhone(), web)
    assert (
        said_on_the_web.startswith("抱歉，我这边看不到您下单或注册时留的手机号")
        and "微信" not in said_on_the_web
    )


@pytest.mark.parametrize("text", ["产品质量", "是物流的问题"])
async def test_a_category_named_while_the_order_is_asked_is_not_more_description(
    wired: Services, text: str
) -> None:
    described = {"complaint_description": "冰箱冷藏室结冰很严重", "complaint_category": "product_quality"}
    slots, _ = await validate(tracker(text, "inform", requested="order_id", slots=described))
    assert "complaint_description" not in slots  # it read "冰箱冷藏室结冰很严重\n产品质量"


@pytest.mark.parametrize(("text", "intent"), [("没有", "deny"), ("不给", "deny"), ("不想说", "deny")])
async def test_a_bare_no_to_the_phone_question_is_a_worry_not_a_cancellation(
    wired: Services, text: str, intent: str
) -> None:
    """ "没有" to "请留一个手机号" left the form with nothing to take, and Rasa's rule for a "no"
    cancelled the whole complaint."""
    described = {"complaint_description": "电视屏幕有条竖线", "complaint_category": "product_quality"}
    slots, said = await validate(tracker(text, intent, requested="phone", slots=described))
    assert slots == {"phone": None} and said == []


@pytest.mark.parametrize("channel", ["wechat", "rest"])
async def test_a_number_declined_at_the_order_question_is_no_answer_about_the_order(
    wired: Services, channel: str
) -> None:
    """ "我不想留电话" at the order question was taken for "no order number", and the next question
    asked for the phone. On WeChat the chat is the way to reach them; elsewhere the order question
    comes again, and the phone question answers the worry when it comes."""
    described = {"complaint_description": "电视屏幕有条竖线", "complaint_category": "product_quality"}
    slots, said = await validate(
        tracker("我不想留电话", "deny", requested="order_id", slots=described, channel=channel)
    )
    assert "order_id" not in slots
    if channel == "wechat":
        assert slots["phone"] == NO_PHONE
        assert said == [render("phone_declined_early")]
    else:
        assert slots.get("phone") is None and said == []
    no_order, _ = await validate(
        tracker("没有", "deny", requested="order_id", slots=described, channel=channel)
    )
    assert no_order["order_id"] == NO_ORDER  # a plain "no" is still no order


@pytest.mark.parametrize(
    ("text", "intent"), [("还是不留了", "deny"), ("好的", "affirm"), ("确认", "affirm"), ("不留", "deny")]
)
async def test_a_refusal_or_a_yes_after_the_chat_was_offered_is_taken_at_its_word(
    wired: Services, text: str, intent: str
) -> None:
    """ "我不想留电话" got "…不想留也可以，处理人员会在微信上联系您"; then "还是不留了" got "这个号码好像不太
    对" and the phone question, and "好的" the phone question again, as if nothing had been said."""
    described = {"complaint_description": "师傅把地板划了", "complaint_category": "installation_repair"}
    t = tracker(text, intent, requested="phone", slots=described, channel="wechat")
    t.events.insert(0, {"event": "bot", "text": render("phone_why_wechat")})
    t.events.insert(0, {"event": "user", "text": "不想留", "parse_data": parsed("不想留", "deny", None)})
    slots, said = await validate(t)
    assert slots["phone"] == NO_PHONE and said == []
    # Without that offer just before, a bare yes is still no number, and asked for again
    plain = tracker(text, intent, requested="phone", slots=described, channel="wechat")
    slots, _ = await validate(plain)
    assert slots.get("phone") in (None, text) and slots.get("phone") != NO_PHONE


async def test_on_wechat_a_customer_who_will_not_leave_a_number_is_reached_in_the_chat(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """The only way past "请留一个手机号" for a customer who would not leave one was to cancel the
    complaint. On WeChat a person can write to them from the console, so the chat is offered."""
    described = {"complaint_description": "电视屏幕有条竖线", "complaint_category": "product_quality"}
    worry = tracker("我不想留电话", "deny", requested="phone", slots=described, channel="wechat")
    dispatcher = CollectingDispatcher()
    await ActionAskPhone().run(dispatcher, worry, DOMAIN)
    (offer,) = dispatcher.messages
    assert "处理人员会在微信上联系您" in offer["text"]
    assert [b["title"] for b in offer["buttons"]] == ["微信联系我", "取消投诉"]
    web = tracker("我不想留电话", "deny", requested="phone", slots=described, channel="rest")
    (why,) = await ask(ActionAskPhone(), web)  # on the web nobody could write to them first
    assert "微信" not in why and "取消投诉" in why

    tapped = tracker(
        '/inform{"phone":"wechat"}',
        "inform",
        [entity("phone", "wechat", extractor="RegexMessageHandler")],
        requested="phone",
        slots=described,
        channel="wechat",
    )
    typed = tracker(
        "不留电话了，有事微信联系我", "deny", requested="phone", slots=described, channel="wechat"
    )
    for t in (tapped, typed):
        slots, said = await validate(t)
        assert slots["phone"] == "wechat" and said == []
        assert "complaint_description" not in slots  # no part of the problem (it was added to it)
    slots, said = await validate(
        tracker("有事微信联系我", "deny", requested="phone", slots=described, channel="rest")
    )
    assert slots["phone"] is None and said == [
        "抱歉，这里没法主动联系您，请留一个手机号或座机，处理人员会打给您。"
    ]

    chosen = {**described, "order_id": "none", "phone": "wechat"}
    summary_text = await ask(
        ActionAskComplaintConfirmed(),
        tracker("", "inform", requested="complaint_confirmed", slots=chosen, channel="wechat"),
    )
    assert "联系电话：不留电话，在微信上联系" in summary_text[0]
    dispatcher = CollectingDispatcher()
    confirmed = tracker("确认", "affirm", slots={**chosen, "complaint_confirmed": True}, channel="wechat")
    await ActionSubmitComplaint().run(dispatcher, confirmed, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert case.phone is None and case.channel == "wechat"
    assert "前在微信上联系您，请留意这里的消息" in dispatcher.messages[0]["text"]


async def test_a_correction_at_the_confirmation_replaces_the_phone(wired: Services) -> None:
    slots, _ = await validate(
        tracker(
            "不对，手机号是13912345678",
            "inform",
            [entity("phone", "13912345678")],
            requested="complaint_confirmed",
            slots={"phone": "13812345678"},
        )
    )
    assert slots["phone"] == "13912345678"
    assert slots.get("complaint_confirmed") is None  # asked again, with the new summary


@pytest.mark.parametrize(
    ("text", "slot", "old", "new"),
    [
        ("订单号错了，应该是JD2026120400002", "order_id", "JD2026120400001", "JD2026120400002"),
        ("电话也错了，是13812340001", "phone", "13812340000", "13812340001"),
    ],
)
async def test_a_corrected_number_is_corrected_in_the_description_too(
    wired: Services, text: str, slot: str, old: str, new: str
) -> None:
    """The summary read "问题：订单JD…0001买的电视…" above "订单号：JD…0002": the case named two orders."""
    slots, _ = await validate(
        tracker(
            text,
            "inform",
            [entity(slot, new)],
            requested="complaint_confirmed",
            slots={
                "complaint_description": f"订单{old.lower()}买的电视，屏幕有条竖线，电话{old}",
                "complaint_category": "product_quality",
                "order_id": "JD2026120400001" if slot == "order_id" else "none",
                "phone": "13812340000" if slot == "phone" else "13700001111",
            },
        )
    )
    assert slots[slot] == new
    assert slots["complaint_description"] == f"订单{new}买的电视，屏幕有条竖线，电话{new}"


DESCRIBED = {"complaint_description": "洗衣机装好第二天就漏水", "complaint_category": "installation_repair"}


def at_summary(text: str, intent: str) -> Tracker:
    """The latest message written to the summary of a complete intake."""
    return tracker(
        text,
        intent,
        requested="complaint_confirmed",
        slots={**DESCRIBED, "order_id": "none", "phone": "13812345678"},
    )


@pytest.mark.parametrize(
    ("text", "intent", "entities", "requested", "filled"),
    [
        (
            "手机号是13812345678",
            "inform",
            [entity("phone", "13812345678")],
            "order_id",
            {"phone": "13812345678"},
        ),
        (
            "不对，订单号是 SF9876543210987",
            "inform",
            [entity("order_id", "SF9876543210987")],
            "phone",
            {"order_id": "SF9876543210987"},
        ),
        ("对了，师傅走的时候还把我家地板刮花了", "complain", [], "phone", {}),
    ],
    ids=["phone-when-order-asked", "order-corrected-when-phone-asked", "more-detail-when-phone-asked"],
)
async def test_an_answer_to_another_question_is_not_called_a_wrong_number(
    text: str, intent: str, entities: list[dict], requested: str, filled: dict[str, str]
) -> None:
    slots, said = await validate(tracker(text, intent, entities, requested=requested, slots=DESCRIBED))
    assert slots.get(requested) is None  # still to be asked
    assert {k: slots[k] for k in filled} == filled
    assert not [m for m in said if "不太对" in m]
    if "phone" in filled:  # the order question comes again: the customer hears the number was taken
        assert said == ["好的，联系电话已记下（138****5678）。"]
    if intent == "complain":
        assert slots["complaint_description"].endswith("\n对了，师傅走的时候还把我家地板刮花了")


async def test_a_description_rewritten_at_the_confirmation_replaces_the_old_one(wired: Services) -> None:
    """ "问题描述改一下：…" was added under the old description, request words and all."""
    slots, _ = await validate(at_summary("问题描述改一下：洗衣机装好第三天漏水，地板都泡了", "complain"))
    assert slots["complaint_description"] == "洗衣机装好第三天漏水，地板都泡了"


async def test_more_detail_that_opens_with_a_wait_word_joins_the_description(wired: Services) -> None:
    """ "等等，…" was taken for looking up a number: the form could place nothing, a person was called
    and the complaint taken so far (order number, phone) was lost."""
    slots, said = await validate(at_summary("等等，墙上还发霉了，这个也写上", "complain"))
    assert slots["complaint_description"] == "洗衣机装好第二天就漏水\n等等，墙上还发霉了，这个也写上"
    assert said == []


@pytest.mark.parametrize("requested", ["order_id", "phone", "complaint_confirmed"])
async def test_the_problem_told_again_is_noted_not_lost(wired: Services, requested: str) -> None:
    """Customers repeat themselves when unsure they were heard; the repeat fell through every rule."""
    slots, said = await validate(
        tracker("洗衣机装好第二天就漏水", "complain", requested=requested, slots=DESCRIBED)
    )
    assert slots["complaint_description"] == "洗衣机装好第二天就漏水"  # set again, so the form goes on
    assert said == ["这个问题已经记下了，请放心。"]


@pytest.mark.parametrize(
    ("text", "confirmed"),
    [
        ("好的，提交吧", True),
        ("嗯嗯", True),
        ("/affirm", True),
        ("没毛病", True),
        ("嗯嗯那个啥", False),
        ("好像不太对", False),
        ("不行", False),  # a bare answer, but a no
    ],
)
async def test_only_a_real_yes_files_the_summary(wired: Services, text: str, confirmed: bool) -> None:
    """The model heard "嗯嗯那个啥" as a yes, and the case was filed while the customer was still
    thinking what to add."""
    slots, _ = await validate(at_summary(text, "affirm"))
    assert slots.get("complaint_confirmed") is (True if confirmed else None)


@pytest.mark.parametrize(
    ("text", "filed"),
    [("好", False), ("嗯嗯", False), ("确认", True), ("没问题，提交吧", True), ("/affirm", True)],
)
async def test_after_a_no_to_the_summary_a_bare_ok_is_not_a_yes_to_it(
    wired: Services, text: str, filed: bool
) -> None:
    """ "不对" → "好的，请直接告诉我要改的内容…" → "好" ("ok, I'll say") filed the case unchanged."""
    t = at_summary(text, "affirm")
    t.events[:0] = [
        {"event": "user", "text": "不对", "parse_data": parsed("不对", "deny")},
        {"event": "bot", "text": render("ask_what_to_change")},
    ]
    slots, _ = await validate(t)
    assert slots.get("complaint_confirmed") is (True if filed else None)
    assert (await validate(at_summary(text, "affirm")))[0].get(
        "complaint_confirmed"
    ) is True  # no "不对" before


@pytest.mark.parametrize(
    ("said", "text", "intent", "added"),
    [
        ("地址写错了", "应该是朝阳区建国路5号", "inform", True),
        ("不对", "送货时间写错了，是周六不是周日", "inform", True),
        (None, "地址：阳光小区3栋2单元501", "inform", True),  # an address needs no "不对" first
        ("不对", "手机号是13912345678", "inform", False),  # a number has a slot of its own
        ("不对", "类别应该是物流", "inform", False),  # the category has a slot too
        ("不对", "是物流的问题", "inform", False),
        ("不对", "我的投诉怎么样了", "ask_case_status", False),
    ],
)
async def test_what_to_change_at_the_summary_goes_with_the_description(
    wired: Services, said: str | None, text: str, intent: str, added: bool
) -> None:
    """ "地址写错了" → "好的，请直接告诉我要改的内容…" → "应该是朝阳区建国路5号" got "请问您是要投诉反映
    问题，还是查询之前投诉的进度呢？", and the case was filed without the address."""
    t = at_summary(text, intent)
    if said:
        t.events[:0] = [
            {"event": "user", "text": said, "parse_data": parsed(said, "deny")},
            {"event": "bot", "text": render("ask_what_to_change")},
        ]
    before = t.slots["complaint_description"]
    slots, _ = await validate(t)
    if added:
        assert slots["complaint_description"] == f"{before}\n{text}"
    else:
        assert slots.get("complaint_description", before) == before


async def test_an_address_while_the_order_is_asked_is_not_a_wrong_order_number(wired: Services) -> None:
    slots, said = await validate(
        tracker("我家地址是幸福花园12栋301", "inform", requested="order_id", slots=DESCRIBED)
    )
    assert slots.get("order_id") is None and said == [DETAIL_ADDED]
    assert slots["complaint_description"].endswith("\n我家地址是幸福花园12栋301")


async def test_a_moment_asked_for_instead_of_the_phone_is_not_called_a_wrong_number(wired: Services) -> None:
    slots, said = await validate(
        tracker("稍等，我想一下", "inform", requested="phone", slots={**DESCRIBED, "order_id": "none"})
    )
    assert slots.get("phone") is None and said == []


async def test_a_returning_customer_is_not_asked_for_the_phone_again(wired: Services) -> None:
    await wired.cases.open_case(CaseDraft("wx-1", "rest", "快递丢了", "delivery", "13700001111"))
    slots, _ = await validate(tracker("又一个快递没到", "complain"))
    assert slots["phone"] == "13700001111"


async def test_cancel_words_at_the_confirmation_are_left_to_the_cancel_rule(wired: Services) -> None:
    slots, _ = await validate(tracker("算了，不投诉了", "deny", requested="complaint_confirmed"))
    assert "complaint_confirmed" not in slots  # the form rejects; the rule cancels


async def test_the_summary_masks_the_phone(wired: Services) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker(
        "",
        "complain",
        requested="complaint_confirmed",
        slots={
            "complaint_description": "空调不制冷",
            "complaint_category": "installation_repair",
            "order_id": "none",
            "phone": "13812345678",
        },
    )
    await ActionAskComplaintConfirmed().run(dispatcher, t, DOMAIN)
    text = dispatcher.messages[0]["text"]
    assert "138****5678" in text and "13812345678" not in text
    assert "订单号：无" in text
    # The number written into the complaint itself is masked too (it was shown in full above the
    # masked contact phone), and a landline as well.
    t.slots["complaint_description"] = (
        "外机一直滴水，订单号JD20261201553，我电话13912345678，座机021-62345678"
    )
    await ActionAskComplaintConfirmed().run(dispatcher, t, DOMAIN)
    text = dispatcher.messages[1]["text"]
    assert "问题：外机一直滴水，订单号JD20261201553，我电话139****5678，座机021-****5678" in text
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/affirm", "/deny"]


@pytest.mark.parametrize(("asked", "shows_summary"), [("order_id", True), ("complaint_confirmed", False)])
async def test_a_no_to_the_summary_asks_what_to_change_but_a_no_to_the_order_question_does_not(
    asked: str, shows_summary: bool
) -> None:
    dispatcher = CollectingDispatcher()
    slots = {
        "complaint_description": "空调不制冷",
        "complaint_category": "installation_repair",
        "order_id": "none",
        "phone": "13812345678",
    }
    t = tracker("不对", "deny", requested="complaint_confirmed", slots=slots)
    t.events[:0] = [{"event": "slot", "name": "requested_slot", "value": asked}]
    await ActionAskComplaintConfirmed().run(dispatcher, t, DOMAIN)
    assert ("请确认投诉信息" in dispatcher.messages[0]["text"]) is shows_summary


async def test_an_angry_first_message_gets_a_case_and_a_person_at_once(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker(
        "你们装的空调三天就坏了，气死我了！！！再不处理我就打12315",
        "complain",
        [entity("complaint_category", "installation_repair", 0.9, "ComplaintCategoryClassifier")],
        satisfaction=("dissatisfied", 0.96),
    )
    events = await ValidateComplaintForm().run(dispatcher, t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert (case.category, case.source, case.phone) == ("installation_repair", "handoff", None)
    assert "气死我了" in case.description
    said = "\n".join(m["text"] for m in dispatcher.messages)
    assert case.number in said and "人工" in said and "手机" not in said  # no more intake questions
    kinds = [(e["event"], e.get("name")) for e in events]
    assert ("active_loop", None) in kinds and ("pause", None) in kinds
    handoff = await wired.handoffs.open_for("wx-1")
    assert handoff is not None and (handoff.reason, handoff.case_number) == ("angry", case.number)


async def test_an_angry_message_with_its_numbers_keeps_them_on_the_case(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """The case opened for "…订单号 TX20261201888，电话 13512345678" had neither number."""
    text = "你们这什么破服务！！！宽带断了三天了打客服电话没人接，订单号 TX20261201888，电话 13512345678"
    t = tracker(
        text,
        "complain",
        [entity("order_id", "TX20261201888"), entity("phone", "13512345678")],
        satisfaction=("dissatisfied", 0.99),
    )
    await ValidateComplaintForm().run(CollectingDispatcher(), t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert (case.order_id, case.phone, case.source) == ("TX20261201888", "13512345678", "chat")


@pytest.mark.parametrize(
    ("text", "shown"),
    [("宽带断了三天了，气死我了！！！", "）"), ("家里漏电了，气死我了！！！", "，P1 特急）")],
)
async def test_an_angry_customer_is_not_told_their_complaint_is_ordinary(
    wired: Services, fake_uow: FakeUowFactory, text: str, shown: str
) -> None:
    """ "已为您登记投诉（编号 …，P3 普通）" to someone this angry; urgency alone is worth saying."""
    dispatcher = CollectingDispatcher()
    t = tracker(text, "complain", satisfaction=("dissatisfied", 0.99))
    await ValidateComplaintForm().run(dispatcher, t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    said = "\n".join(m["text"] for m in dispatcher.messages)
    assert f"已为您登记投诉（编号 {case.number}{shown}" in said and "普通" not in said


async def test_a_complaint_that_also_asks_for_a_person_gets_a_case_and_the_person(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """ "你好，我家空调装好后一直滴水，我要找人工": the model heard the complaint (0.62) and the bot asked
    for the order number; the request for a person was lost."""
    dispatcher = CollectingDispatcher()
    t = tracker(
        "你好，我家空调装好后一直滴水，我要找人工",
        "complain",
        [entity("complaint_category", "installation_repair", 0.9, "ComplaintCategoryClassifier")],
    )
    events = await ValidateComplaintForm().run(dispatcher, t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert case.description.startswith("我家空调装好后一直滴水") and case.category == "installation_repair"
    said = "\n".join(m["text"] for m in dispatcher.messages)
    assert case.number in said and "订单号" not in said
    assert ("active_loop", None) in [(e["event"], e.get("name")) for e in events]
    handoff = await wired.handoffs.open_for("wx-1")
    assert handoff is not None and (handoff.reason, handoff.case_number) == ("customer_request", case.number)


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("空调漏水，转人工", True),
        ("让真人来跟我说", True),
        ("空调一直滴水，帮我转一下人工吧", True),
        ("客服态度很差", False),
        ("人工费太贵了", False),
        ("安装还要人工费吗", False),
    ],
)
def test_what_asks_for_a_person(text: str, asks: bool) -> None:
    from bot.cases.intake import asks_for_a_person

    assert asks_for_a_person(text) is asks


@pytest.mark.parametrize(
    ("text", "left"),
    [("空调一直滴水，我要找人工客服", "空调一直滴水,"), ("冰箱不制冷，帮我转一下人工吧", "冰箱不制冷,吧")],
)
def test_the_request_for_a_person_is_taken_out_of_the_description(text: str, left: str) -> None:
    """ "我要找人工客服" used to leave "我要客服" in the case's description."""
    from bot.cases.intake import without_person_request

    assert without_person_request(text) == left


async def test_a_merely_unhappy_complaint_goes_on_with_the_intake(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    slots, said = await validate(
        tracker("空调装好三天就不制冷了，很失望", "complain", satisfaction=("dissatisfied", 0.97))
    )
    assert slots["complaint_description"] and fake_uow.store.cases == {}
    assert not any("人工" in m for m in said) and await wired.handoffs.open_for("wx-1") is None


async def test_angry_feedback_is_handed_to_a_person(wired: Services) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("什么破服务，垃圾公司，再也不用了！", "give_feedback", satisfaction=("dissatisfied", 0.95))
    events = await ActionRecordFeedback().run(dispatcher, t, DOMAIN)
    assert ("pause", None) in [(e["event"], e.get("name")) for e in events]
    assert (await wired.handoffs.open_for("wx-1")).reason == "angry"


@pytest.mark.parametrize(
    ("text", "satisfaction", "intake"),
    [
        ("师傅态度很差，还骂人", ("dissatisfied", 0.99), True),
        ("装完多收了我200块钱，服务一般", ("dissatisfied", 0.9), True),
        ("师傅走的时候把我家的工具顺走了", ("dissatisfied", 0.7), True),
        ("师傅很好，没有乱收费", ("satisfied", 0.9), False),
        ("安装师傅一直催我给五星好评", ("satisfied", 0.96), True),  # "感谢您的5分评价"
        ("师傅干完活一直让我给他好评", ("satisfied", 0.99), True),  # "给他": it was thanked for
        ("师傅没让我给好评，挺好的", ("satisfied", 0.9), False),
        # money beyond the bill, told calmly: it was recorded as feedback
        ("装得挺好，就是师傅要了50块辛苦费", ("satisfied", 0.66), True),
        ("师傅人很好，一分钱小费都没要", ("satisfied", 0.99), False),
        ("态度一般般吧", ("dissatisfied", 0.8), False),
        ("马桶堵了，师傅昨天刚通过", ("satisfied", 0.95), True),  # the fault back: it was thanked for
        ("马桶堵了，师傅来了十分钟就通好了，很专业", ("satisfied", 0.99), False),  # put right
    ],
)
async def test_a_verdict_that_names_misconduct_is_filed_as_a_complaint(
    wired: Services, fake_uow: FakeUowFactory, text: str, satisfaction: tuple[str, float], intake: bool
) -> None:
    """ "师傅态度很差，还骂人" got "您的反馈已记录。如果需要我们处理，可以直接说明情况…"."""
    dispatcher = CollectingDispatcher()
    events = await ActionRecordFeedback().run(
        dispatcher, tracker(text, "give_feedback", satisfaction=satisfaction), DOMAIN
    )
    followups = [e["name"] for e in events if e["event"] == "followup"]
    if intake:
        assert followups == ["complaint_form"] and dispatcher.messages == []
        assert fake_uow.store.feedback == []  # the case will hold the words
    else:
        assert followups == [] and [e.text for e in fake_uow.store.feedback] == [text]


async def test_submitting_creates_the_case_and_tells_the_number(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker(
        "确认",
        "affirm",
        slots={
            "complaint_description": "空调修完又坏了，家里老人一个人在家",
            "complaint_category": "installation_repair",
            "order_id": "JD2026112012345",
            "phone": "13812345678",
            "complaint_confirmed": True,
        },
        satisfaction=("dissatisfied", 0.97),
    )
    events = await ActionSubmitComplaint().run(dispatcher, t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert case.order_id == "JD2026112012345" and case.sender_id == "wx-1"
    assert case.priority.value == "P2"  # 老人 is an urgency word
    reply = dispatcher.messages[0]["text"]
    assert case.number in reply and "P2" in reply and "尾号5678" in reply
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"}["complaint_description"] is None


async def test_the_receipt_lists_the_photos_sent_during_the_intake(wired: Services, clock: Clock) -> None:
    """ "图片收到了👌 登记投诉时会一起附上": the receipt now says they were."""
    for kind in ("image", "image", "location"):
        await wired.cases.attach(Attachment("wx-1", "wechat", kind, clock.now), for_new_case=True)
    dispatcher = CollectingDispatcher()
    slots = {
        "complaint_description": "洗衣机外壳磕了一个大坑",
        "complaint_category": "delivery",
        "phone": "13812345678",
        "complaint_confirmed": True,
    }
    await ActionSubmitComplaint().run(dispatcher, tracker("确认", "affirm", slots=slots), DOMAIN)
    receipt = dispatcher.messages[0]["text"]
    assert "优先级：P3 普通\n附件：2 张图片、1 个位置\n我们会在" in receipt
    dispatcher = CollectingDispatcher()
    await ActionSubmitComplaint().run(
        dispatcher, tracker("确认", "affirm", sender="wx-2", slots=slots), DOMAIN
    )
    assert "附件" not in dispatcher.messages[0]["text"]


@pytest.mark.parametrize(
    ("said", "phone", "description"),
    [
        (
            "热水器装了四个小时，还把墙打坏了，订单号JD2026113012345，电话13512345678",
            "13512345678",
            "热水器装了四个小时，还把墙打坏了",
        ),
        (  # corrected since: the old one goes too
            "热水器装了四个小时，还把墙打坏了，订单号JD2026113012345，电话13512345678",
            "13912345678",
            "热水器装了四个小时，还把墙打坏了",
        ),
        (  # the numbers first: "问题：手机号138****5678，空调不制冷" (seen live)
            "手机号13512345678，订单号JD2026113012345，热水器装了四个小时，还把墙打坏了",
            "13512345678",
            "热水器装了四个小时，还把墙打坏了",
        ),
    ],
)
async def test_numbers_closing_the_description_are_not_filed_twice(
    wired: Services, fake_uow: FakeUowFactory, said: str, phone: str, description: str
) -> None:
    """The summary read "问题：…还把墙打坏了，订单号JD2026113012345，电话135****5678" above lines of
    their own for both, and a phone corrected later left the old number in the description."""
    slots = {
        "complaint_description": said,
        "complaint_category": "installation_repair",
        "order_id": "JD2026113012345",
        "phone": phone,
    }
    shown = await ask(ActionAskComplaintConfirmed(), tracker("13512345678", "inform", slots=slots))
    assert f"问题：{description}\n" in shown[0]
    await ActionSubmitComplaint().run(
        CollectingDispatcher(),
        tracker("确认", "affirm", slots={**slots, "complaint_confirmed": True}),
        DOMAIN,
    )
    (case,) = fake_uow.store.cases.values()
    assert (case.description, case.order_id, case.phone) == (description, "JD2026113012345", phone)
    kept = {**slots, "order_id": NO_ORDER, "phone": None}  # nothing on file: the words stay
    assert (
        "订单号JD2026113012345"
        in (await ask(ActionAskComplaintConfirmed(), tracker("好", "affirm", slots=kept)))[0]
    )


async def test_a_safety_case_at_night_goes_to_a_person_and_keeps_its_one_hour_promise(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    wired.handoffs.policy = HandoffPolicy(opens=time(9), closes=time(9, 30))  # it is 10:30 in Shanghai
    dispatcher = CollectingDispatcher()
    slots = {
        "complaint_description": "家里煤气味很重，是不是你们装的管子漏了",
        "complaint_category": "installation_repair",
        "phone": "13812345678",
        "complaint_confirmed": True,
    }
    events = await ActionSubmitComplaint().run(dispatcher, tracker("确认", "affirm", slots=slots), DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert case.priority.value == "P1"
    said = [m["text"] for m in dispatcher.messages]
    assert "11月20日 11:30 前与您联系" in said[0]  # the case's promise ...
    assert said[-1] == (  # ... which the after-hours handoff keeps instead of contradicting
        f"现在是非工作时间，在线客服将于 11月21日 09:00 上线；您的诉求已登记（编号 {case.number}），"
        "我们仍会在 11月20日 11:30 前与您联系。需要的话也可以先留言。"
    )
    assert any(e["event"] == "pause" for e in events)


async def test_asking_for_a_person_when_nobody_is_at_the_console(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """In hours, but no agent has had the console open for 5 minutes: the customer hears that, and
    gets a case with a deadline, not "马上为您接通" and a wait nobody will end."""
    wired.handoffs._store.online_count = 0  # type: ignore[attr-defined]
    dispatcher = CollectingDispatcher()
    events = await ActionRequestHuman().run(
        dispatcher, tracker("我要找人工，宽带断了三天", "request_human"), DOMAIN
    )
    (case,) = fake_uow.store.cases.values()
    assert (case.source, case.description) == (
        "handoff",
        "无客服在线时转人工：我要找人工，宽带断了三天",
    )
    assert [m["text"] for m in dispatcher.messages] == [
        f"已为您转接人工客服🙋 现在客服同事暂时都不在线，您的诉求已登记（编号 {case.number}），"
        "我们会在 11月21日 10:30 前与您联系。等待期间直接留言，客服会看到；回复“算了”可返回机器人服务。"
    ]
    assert any(e["event"] == "pause" for e in events)  # still queued: the first agent in takes it


def tapped_after(words: str, payload: str, seconds: float = 20) -> Tracker:
    """A button tapped under the bot's answer to ``words``, ``seconds`` later."""
    t = tracker(payload, payload.lstrip("/"), loop=None)
    t.events.insert(
        0, {"event": "user", "text": words, "timestamp": 1000.0, "parse_data": parsed(words, "out_of_scope")}
    )
    t.events.insert(1, {"event": "bot", "text": "Sorry, I can only read Chinese for now…"})
    t.events[-1]["timestamp"] = 1000.0 + seconds
    return t


@pytest.mark.parametrize(
    ("seconds", "description"),
    [
        (20, "无客服在线时转人工：hello, my order hasn't arrived yet"),
        (3 * 60 * 60, "无客服在线时转人工"),  # hours later the tap says nothing of those words
    ],
)
async def test_a_tapped_request_for_a_person_keeps_the_words_it_answered(
    wired: Services, fake_uow: FakeUowFactory, seconds: float, description: str
) -> None:
    """ "Talk to a person" under the English answer filed "无客服在线时转人工：/request_human": the
    payload, not the complaint the agent has to work from."""
    wired.handoffs._store.online_count = 0  # type: ignore[attr-defined]
    t = tapped_after("hello, my order hasn't arrived yet", "/request_human", seconds)
    await ActionRequestHuman().run(CollectingDispatcher(), t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert case.description == description


MID_INTAKE = {
    "complaint_description": "空调装好第二天就不制冷了",
    "complaint_category": "installation_repair",
}


async def test_a_person_asked_for_mid_intake_gets_what_was_described_as_a_case(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """Without the case, the complaint lived only in the transcript: no number, no deadline, and
    the intake resumed after the agent handed back, asking the order number again."""
    dispatcher = CollectingDispatcher()
    t = tracker("我要找人工客服", "request_human", requested="order_id", slots=MID_INTAKE)
    events = await ActionRequestHuman().run(dispatcher, t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    assert (case.description, case.category, case.source) == (
        "空调装好第二天就不制冷了",  # the request itself is not part of the problem
        "installation_repair",
        "handoff",
    )
    said = [m["text"] for m in dispatcher.messages]
    assert said[0] == f"好的。您刚才反映的问题已登记（编号 {case.number}），客服会接着处理，不用再重复描述。"
    assert "已为您转接人工客服" in said[1]
    kinds = [(e["event"], e.get("name")) for e in events]
    assert ("active_loop", None) in kinds and ("pause", None) in kinds
    assert ("slot", "complaint_description") in kinds  # the intake is over
    handoff = await wired.handoffs.open_for("wx-1")
    assert handoff is not None and (handoff.reason, handoff.case_number) == ("customer_request", case.number)


def unplaced_in_intake(*texts: str) -> Tracker:
    """Messages the intake could not place (the form rejected them), the fallback after each."""
    events: list[dict[str, Any]] = [{"event": "active_loop", "name": "complaint_form"}]
    for i, text in enumerate(texts):
        if i:
            events += [
                {"event": "action", "name": "action_default_fallback"},
                {"event": "action", "name": "complaint_form"},
            ]
        events += [
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": text, "parse_data": parsed(text, "inform")},
            {"event": "action_execution_rejected", "name": "complaint_form"},
        ]
    slots = {
        **MID_INTAKE,
        "order_id": "JD2026120512345",
        "phone": "13912345678",
        "requested_slot": "complaint_confirmed",
    }
    message = parsed(texts[-1], "inform")
    return Tracker("wx-1", slots, message, events, False, None, {"name": "complaint_form"}, "action_listen")


async def test_a_message_the_intake_cannot_place_asks_again_and_keeps_the_intake(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """It called a person at once ("抱歉，我还是没有理解"), and the order number and phone given so far
    were on no case."""
    dispatcher = CollectingDispatcher()
    events = await ActionDefaultFallback().run(dispatcher, unplaced_in_intake("嗯嗯那个啥"), DOMAIN)
    assert [m["text"] for m in dispatcher.messages] == ["抱歉，这句话我没能理解🙏"]
    assert events == [{"event": "followup", "name": "complaint_form", "timestamp": None}]
    assert fake_uow.store.cases == {} and await wired.handoffs.open_for("wx-1") is None


async def test_a_moment_asked_for_where_the_intake_expected_an_answer_is_granted(wired: Services) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionDefaultFallback().run(dispatcher, unplaced_in_intake("嗯，我想一下"), DOMAIN)
    assert [m["text"] for m in dispatcher.messages] == ["好的，不着急😊"]
    assert events == [{"event": "followup", "name": "complaint_form", "timestamp": None}]


async def test_twice_unplaced_in_a_row_a_person_takes_over_from_a_case_with_what_was_given(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionDefaultFallback().run(
        dispatcher, unplaced_in_intake("嗯嗯那个啥", "就那个呗"), DOMAIN
    )
    (case,) = fake_uow.store.cases.values()
    assert (case.description, case.order_id, case.phone) == (
        "空调装好第二天就不制冷了",
        "JD2026120512345",
        "13912345678",
    )
    said = [m["text"] for m in dispatcher.messages]
    assert said[0] == (
        f"抱歉，我还是没能理解。您反映的问题已登记（编号 {case.number}），"
        "现在请人工客服接着处理，不用再重复描述。"
    )
    kinds = [(e["event"], e.get("name")) for e in events]
    assert ("active_loop", None) in kinds and ("pause", None) in kinds
    handoff = await wired.handoffs.open_for("wx-1")
    assert handoff is not None and (handoff.reason, handoff.case_number) == ("misunderstood", case.number)


async def test_twice_unplaced_before_anything_was_described_a_person_takes_it_from_here(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    dispatcher = CollectingDispatcher()
    t = unplaced_in_intake("嗯嗯那个啥", "就那个呗")
    t.slots = {"requested_slot": "complaint_description"}  # nothing described, nothing to file
    events = await ActionDefaultFallback().run(dispatcher, t, DOMAIN)
    said = [m["text"] for m in dispatcher.messages]
    assert said[0] == "抱歉，我还是没有理解。您可以直接描述遇到的问题，或者回复“转人工”由客服同事为您处理。"
    assert fake_uow.store.cases == {}
    kinds = [(e["event"], e.get("name")) for e in events]
    assert ("active_loop", None) in kinds and ("pause", None) in kinds
    handoff = await wired.handoffs.open_for("wx-1")
    assert handoff is not None and handoff.reason == "misunderstood"


async def test_a_person_asked_for_before_anything_was_described_ends_the_intake(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """ "我要投诉" then "转人工": after the agent hands back, "谢谢" must not be taken for the
    description the form was still waiting for."""
    dispatcher = CollectingDispatcher()
    t = tracker("转人工", "request_human", requested="complaint_description")
    events = await ActionRequestHuman().run(dispatcher, t, DOMAIN)
    kinds = [(e["event"], e.get("name")) for e in events]
    assert ("active_loop", None) in kinds and ("pause", None) in kinds
    assert fake_uow.store.cases == {}  # nothing to file yet
    assert "已为您转接人工客服" in dispatcher.messages[0]["text"]


async def test_a_failed_queue_after_the_case_does_not_start_the_intake_over(
    wired: Services, fake_uow: FakeUowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(wired.handoffs, "request", broken)
    dispatcher = CollectingDispatcher()
    t = tracker("转人工", "request_human", requested="phone", slots=MID_INTAKE)
    events = await ActionRequestHuman().run(dispatcher, t, DOMAIN)
    (case,) = fake_uow.store.cases.values()
    said = "\n".join(m["text"] for m in dispatcher.messages)
    assert case.number in said and "转人工暂时没有成功" in said
    assert events[-1] == {"event": "followup", "name": "action_listen", "timestamp": None}


async def test_a_failed_submit_keeps_the_intake_and_says_so(
    wired: Services, fake_uow: FakeUowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise ConnectionError("database down")

    monkeypatch.setattr(wired.cases, "open_case", broken)
    dispatcher = CollectingDispatcher()
    t = tracker(
        "确认",
        "affirm",
        slots={
            "complaint_description": "快递丢了",
            "complaint_category": "delivery",
            "phone": "13812345678",
            "order_id": "none",
        },
    )
    events = await ActionSubmitComplaint().run(dispatcher, t, DOMAIN)
    assert "保留" in dispatcher.messages[0]["text"]
    assert {"event": "followup", "name": "complaint_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]
    assert not any(e["event"] == "slot" and e["name"] == "complaint_description" for e in events)


async def test_cancelling_clears_the_form_and_creates_nothing(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionCancelComplaint().run(dispatcher, tracker("算了，不投诉了", "deny"), DOMAIN)
    assert events[0] == {"event": "active_loop", "name": None, "timestamp": None}
    assert "取消" in dispatcher.messages[0]["text"]
    assert fake_uow.store.cases == {}


def at_phone_question(*texts: str, channel: str = "wechat") -> Tracker:
    """An intake at the phone question, with the customer's messages there (all heard as "no")."""
    events: list[dict[str, Any]] = [
        {"event": "user", "text": "空调不制冷", "parse_data": parsed("空调不制冷", "complain")},
        {"event": "active_loop", "name": "complaint_form"},
    ]
    for text in texts:
        events.append(
            {"event": "user", "text": text, "parse_data": parsed(text, "deny"), "input_channel": channel}
        )
    slots = {**MID_INTAKE, "order_id": NO_ORDER, "requested_slot": "phone"}
    message = parsed(texts[-1], "deny")
    return Tracker("wx-1", slots, message, events, False, None, {"name": "complaint_form"}, "action_listen")


async def cancel(t: Tracker) -> tuple[list[dict[str, Any]], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await ActionCancelComplaint().run(dispatcher, t, DOMAIN)
    return events, [m["text"] for m in dispatcher.messages]


async def test_never_mind_after_the_phone_worry_asks_before_cancelling(wired: Services) -> None:
    """ "为什么要我电话，会不会泄露", the explanation, then "那算了": the complaint was cancelled, though
    the customer may only have meant the number, which WeChat does without."""
    events, said = await cancel(at_phone_question("为什么要我电话，会不会泄露", "那算了"))
    assert [(e["event"], e["name"]) for e in events] == [
        ("active_loop", "complaint_form"),  # still open, ready for the answer
        ("followup", "action_listen"),
    ]
    assert said == [
        "这次投诉还要继续登记吗？不想留电话也没关系，处理人员可以在微信上联系您；不登记了请点“取消投诉”。"
    ]
    web = at_phone_question("我不想留电话", "算了吧", channel="rest")
    assert (await cancel(web))[1][0].startswith("这次投诉还要继续登记吗？继续的话请留一个手机号或座机")
    # Asked once: "算了" again, "算了，不投诉了", or "算了" with no worry before it cancels at once.
    for t in (
        at_phone_question("为什么要我电话", "那算了", "算了"),
        at_phone_question("为什么要我电话", "算了，不投诉了"),
        at_phone_question("那算了"),
    ):
        events, said = await cancel(t)
        assert events[0] == {"event": "active_loop", "name": None, "timestamp": None}
        assert said == ["好的，已为您取消本次投诉，填写的信息没有提交。之后有需要随时找我。"]


async def status(text: str, entities: list[dict] | None = None, sender: str = "wx-1") -> str:
    dispatcher = CollectingDispatcher()
    await ActionCaseStatus().run(
        dispatcher, tracker(text, "ask_case_status", entities, sender=sender), DOMAIN
    )
    return "\n".join(m["text"] for m in dispatcher.messages)


async def cannot_help(text: str, sender: str = "wx-1", loop: str | None = None) -> str:
    t = tracker(text, "out_of_scope", sender=sender)
    t.active_loop = {"name": loop} if loop else {}
    dispatcher = CollectingDispatcher()
    assert await ActionCannotHelp().run(dispatcher, t, DOMAIN) == []
    return "\n".join(m.get("text") or m["response"] for m in dispatcher.messages)


async def test_off_the_subject_mid_intake_is_one_message_without_a_menu(wired: Services) -> None:
    """ "明天天气怎么样" at the order question got "这个我帮不上忙…" with a 转人工客服 button, then the
    question with its own: two menus in a row. "你们几点下班", which the bot knows, got the same."""
    case = await wired.cases.open_case(CaseDraft("wx-1", "wechat", "空调坏了", "installation_repair", None))
    t = tracker("明天天气怎么样", "out_of_scope")
    t.active_loop = {"name": "complaint_form"}
    dispatcher = CollectingDispatcher()
    assert await ActionCannotHelp().run(dispatcher, t, DOMAIN) == []
    assert [(m["text"], m["buttons"]) for m in dispatcher.messages] == [(render("cannot_help_in_intake"), [])]
    assert await cannot_help("你们几点下班", loop="complaint_form") == render(
        "opening_hours", hours=describe_hours(wired.handoffs.policy)
    )
    assert await cannot_help("师傅几点到？", loop="complaint_form") == render("cannot_help_in_intake")
    assert not [e for e in (await wired.cases.get(case.number)).events if e.kind == "note"]


@pytest.mark.parametrize("loop", [None, "survey_form"])
async def test_english_is_answered_in_english_too(wired: Services, loop: str | None) -> None:
    """ "my package hasn't arrived" (out of scope to the NLU) got "抱歉，这个我帮不上忙" only."""
    reply = await cannot_help("my package hasn't arrived", loop=loop)
    assert reply.startswith("Sorry, I can only read Chinese for now.") and "抱歉，我目前只能看懂中文" in reply
    assert not (await cannot_help("ok thx")).startswith("Sorry")  # a chat's English, not a language


async def test_a_customer_asking_who_is_writing_is_told(wired: Services) -> None:
    """ "你们怎么有我的微信" got "抱歉，这个我帮不上忙", "你们是不是骗子" "您是想确认是不是机器人吗？"."""
    from actions.fallback import ActionDefaultAskAffirmation

    assert (await cannot_help("你们怎么有我的微信")).startswith("请放心，这里是我们的官方服务号")
    dispatcher = CollectingDispatcher()
    t = tracker("你们是不是骗子", "nlu_fallback", satisfaction=("dissatisfied", 0.99), loop=None)
    await ActionDefaultAskAffirmation().run(dispatcher, t, DOMAIN)
    (said,) = dispatcher.messages
    assert said["text"].startswith("请放心，这里是我们的官方服务号") and "不会向您索要验证码" in said["text"]


async def test_a_question_the_bot_cannot_answer_goes_onto_the_open_case(wired: Services) -> None:
    """ "师傅几点到？" after an agent promised a visit got "抱歉，这个我帮不上忙" and reached nobody."""
    case = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "师傅把地板划坏了", "installation_repair", "13812345678")
    )
    reply = await cannot_help("师傅几点到？")
    assert reply.startswith(f"这个问题我帮您记到投诉 {case.number} 里了") and "转人工" in reply
    after = await wired.cases.get(case.number)
    assert "客户问：师傅几点到？" in after.description
    assert [(e.actor, e.note) for e in after.events if e.kind == "note"] == [
        ("customer:wx-1", "客户问：师傅几点到？")
    ]
    in_survey = await cannot_help("退款什么时候到账", loop="survey_form")
    assert in_survey.endswith("先请您给这次服务打个分吧：")


async def test_a_customer_who_forgot_the_case_number_gets_their_cases(wired: Services) -> None:
    """ "我的投诉编号是多少来着" got "这个我帮不上忙"; "我的工单号是多少" (information to the model)
    got "您是要投诉反映问题，还是查询…"."""
    case = await wired.cases.open_case(CaseDraft("wx-1", "wechat", "快递三天没到", "delivery", "13812345678"))
    assert case.number in await cannot_help("我的投诉编号是多少来着")
    dispatcher = CollectingDispatcher()
    await ActionRouteInform().run(dispatcher, tracker("我的工单号是多少", "inform", loop=None), DOMAIN)
    assert case.number in dispatcher.messages[0]["text"]
    assert await cannot_help("编号忘了", sender="wx-2") == render("no_case_number_here")


async def test_without_an_open_case_or_a_question_about_the_service_nothing_is_noted(
    wired: Services,
) -> None:
    assert await cannot_help("师傅几点到？", sender="wx-2") == "utter_out_of_scope"
    case = await wired.cases.open_case(CaseDraft("wx-1", "wechat", "空调坏了", "installation_repair", None))
    assert await cannot_help("明天天气怎么样") == "utter_out_of_scope"
    assert await cannot_help("明天天气怎么样", loop="survey_form") == "utter_survey_cannot_help"
    assert not [e for e in (await wired.cases.get(case.number)).events if e.kind == "note"]


@pytest.mark.parametrize("text", ["给你们点个赞", "师傅很给力，必须好评👍", "666"])
async def test_praise_the_model_puts_out_of_scope_is_thanked_and_kept(
    wired: Services, fake_uow: FakeUowFactory, text: str
) -> None:
    """ "给你们点个赞" got "抱歉，这个我帮不上忙"."""
    assert await cannot_help(text) == render("thanks_for_feedback")
    (entry,) = fake_uow.store.feedback
    assert (entry.kind, entry.text) == ("feedback", text)
    assert await cannot_help("能给个好评吗？", sender="wx-2") == "utter_out_of_scope"


@pytest.mark.parametrize(
    "text", ["你们几点下班", "人工客服什么时候在？", "客服工作时间是几点到几点", "你们营业到几点"]
)
async def test_a_question_about_opening_hours_is_answered(wired: Services, text: str) -> None:
    """ "你们几点下班" got "这个我帮不上忙", and with an open case it was filed on it as a question
    for the case's handler; the bot knows when people answer (HANDOFF_HOURS / HANDOFF_DAYS)."""
    case = await wired.cases.open_case(CaseDraft("wx-1", "wechat", "空调坏了", "installation_repair", None))
    hours = describe_hours(wired.handoffs.policy)
    assert await cannot_help(text) == render("opening_hours", hours=hours)
    assert render("opening_hours", hours=hours).startswith(f"人工客服的在线时间是{hours}")
    assert "客户问" not in (await wired.cases.get(case.number)).description


@pytest.mark.parametrize("in_hours", [True, False])
async def test_asking_when_people_answer_is_not_a_request_for_one(
    wired: Services, fake_uow: FakeUowFactory, in_hours: bool
) -> None:
    """ "人工客服什么时候在？", heard as a request for a person, queued the customer and filed a case
    (其他问题) for a question. It is answered, with a button that does hand over."""
    if not in_hours:
        wired.handoffs.policy = HandoffPolicy(opens=time(9), closes=time(9, 30))  # it is 10:30 in Shanghai
    hours = describe_hours(wired.handoffs.policy)
    dispatcher = CollectingDispatcher()
    t = tracker("人工客服什么时候在？", "request_human", loop=None)
    assert await ActionRequestHuman().run(dispatcher, t, DOMAIN) == []
    (answer,) = dispatcher.messages
    assert answer["text"].startswith(f"人工客服的在线时间是{hours}")
    assert ("现在就可以为您转接" in answer["text"]) is in_hours
    assert [b["payload"] for b in answer["buttons"]] == ["/request_human"]
    assert await wired.handoffs.open_for("wx-1") is None and fake_uow.store.cases == {}

    # Asked and requested in one message: a person, as before
    dispatcher = CollectingDispatcher()
    events = await ActionRequestHuman().run(
        dispatcher, tracker("几点有人工？我要转人工", "request_human", loop=None), DOMAIN
    )
    assert ("pause", None) in [(e["event"], e.get("name")) for e in events]


@pytest.mark.parametrize(
    ("days", "opens", "closes", "said"),
    [
        (range(5), time(9), time(18), "周一至周五 09:00-18:00"),
        ((0, 2, 4), time(8, 30), time(17), "周一、周三、周五 08:30-17:00"),
        (range(7), None, None, "每天24小时"),
    ],
)
def test_opening_hours_read_as_a_customer_reads_them(
    days: Iterable[int], opens: time | None, closes: time | None, said: str
) -> None:
    policy = HandoffPolicy(opens=opens, closes=closes, weekdays=frozenset(days))
    assert describe_hours(policy) == said


@pytest.mark.parametrize("text", ["算了不投诉了", "我不想投诉了"])
async def test_no_more_complaining_after_filing_takes_the_complaint_back(wired: Services, text: str) -> None:
    """Said just after filing, it got "请问您是要投诉反映问题，还是查询之前投诉的进度呢？"."""
    filed = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "空调漏水", "installation_repair", "13812345678")
    )
    dispatcher = CollectingDispatcher()
    await ActionRouteInform().run(dispatcher, tracker(text, "deny", loop=None), DOMAIN)
    assert f"已记下您要撤销投诉 {filed.number}" in dispatcher.messages[0]["text"]
    assert (await wired.cases.get(filed.number)).description.endswith(f"客户要求撤销投诉：{text}")
    during = CollectingDispatcher()  # inside an intake the words cancel the one being described
    await ActionRouteInform().run(during, tracker(text, "deny"), DOMAIN)
    assert not any("撤销投诉" in (m.get("text") or "") for m in during.messages)


async def test_a_customer_withdraws_a_filed_complaint(wired: Services) -> None:
    """ "我想撤销刚才的投诉，问题已经解决了" (heard as a "no") got "这个我帮不上忙"."""
    from actions.intake import ActionRouteInform

    async def route(text: str, intent: str = "deny", entities: list[dict] | None = None) -> str:
        dispatcher = CollectingDispatcher()
        await ActionRouteInform().run(dispatcher, tracker(text, intent, entities), DOMAIN)
        return "\n".join(m["text"] for m in dispatcher.messages)

    assert "没有处理中的投诉，不需要撤销" in await route("撤回投诉")
    first = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "空调坏了", "installation_repair", "13812345678")
    )
    other = await wired.cases.open_case(CaseDraft("wx-2", "rest", "快递丢了", "delivery", "13912345678"))
    reply = await route("我想撤销刚才的投诉，问题已经解决了")
    assert f"已记下您要撤销投诉 {first.number}" in reply
    noted = await wired.cases.get(first.number)
    assert noted.description.endswith("客户要求撤销投诉：我想撤销刚才的投诉，问题已经解决了")
    assert noted.status.value == "new"  # an agent closes it; the customer's words are on it
    assert "撤销" not in (await wired.cases.get(other.number)).description  # nobody else's case

    second = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "冰箱不制冷", "product_quality", "13812345678")
    )
    which = await status("取消我的投诉")  # heard as a status question
    assert "要撤销哪一个" in which and first.number in which and second.number in which
    assert "撤销" not in (await wired.cases.get(second.number)).description
    picked = await route(f"撤销 {second.number}", "inform", [entity("case_number", second.number)])
    assert f"已记下您要撤销投诉 {second.number}" in picked
    assert (await wired.cases.get(second.number)).description.endswith(
        f"客户要求撤销投诉：撤销 {second.number}"
    )
    assert "没有查到" in await route(f"撤销 {other.number}", "inform", [entity("case_number", other.number)])
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await wired.cases.change_status(first.number, step, actor="agent:wang")
    done = await route(f"撤销 {first.number}", "inform", [entity("case_number", first.number)])
    assert done == f"投诉 {first.number} 目前是「已解决」，不需要撤销。如果问题又出现了，直接告诉我就行。"
    # The customer took it back: nobody asks them how its handling went. The survey is kept,
    # cancelled, to say why.
    (survey,) = await wired.surveys.search(sender_id="wx-1")
    assert (survey.case_number, survey.status.value, survey.reason) == (
        first.number,
        "cancelled",
        "withdrawn",
    )
    kinds = [e.kind for e in (await wired.cases.get(first.number)).events]
    assert kinds.count("withdrawal_requested") == 1 and "note" not in kinds


async def test_feedback_is_heard_as_the_survey_hears_it(wired: Services, fake_uow: FakeUowFactory) -> None:
    """ "满意个鬼" outside a survey was thanked for ("谢谢您的反馈"): the model hears the praise word."""
    dispatcher = CollectingDispatcher()
    t = tracker("满意个鬼", "give_feedback", satisfaction=("satisfied", 0.94), loop=None)
    await ActionRecordFeedback().run(dispatcher, t, DOMAIN)
    assert "非常抱歉" in dispatcher.messages[0]["text"]
    (entry,) = fake_uow.store.feedback
    assert entry.satisfaction == "dissatisfied"


async def test_a_problem_gone_goes_on_the_open_case(wired: Services, fake_uow: FakeUowFactory) -> None:
    """ "师傅已经修好了" got "谢谢您的反馈" (feedback), "问题解决了" got "您是想评价我们的服务吗？" (the
    model's fallback), and the case stayed open in the agents' worklist."""
    from actions.fallback import ActionDefaultAskAffirmation
    from actions.intake import ActionRouteInform

    async def say_(text: str, intent: str, satisfaction: tuple[str, float] = ("satisfied", 0.9)) -> str:
        action = {
            "give_feedback": ActionRecordFeedback(),
            "nlu_fallback": ActionDefaultAskAffirmation(),
            "ask_case_status": ActionCaseStatus(),
        }.get(intent, ActionRouteInform())
        dispatcher = CollectingDispatcher()
        t = tracker(text, intent, satisfaction=satisfaction, loop=None)
        await action.run(dispatcher, t, DOMAIN)
        return "\n".join(m.get("text") or "" for m in dispatcher.messages)

    # Nothing open: feedback is feedback, as before; the model unsure got "您是想评价我们的服务吗？"
    assert "谢谢您的反馈" in await say_("师傅已经修好了", "give_feedback")
    assert (await say_("问题解决了", "nlu_fallback")).startswith("太好了😊 问题解决了就好")
    assert "太好了" not in await say_("解决一下", "nlu_fallback")
    case = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "空调不制冷", "installation_repair", "13812345678")
    )
    assert "已经解决" not in await say_("我的问题解决了没", "ask_case_status")  # a question: the status
    assert "已经解决" not in await say_("修好了吗？", "nlu_fallback")
    assert "已经解决" not in await say_("修好了，但是又漏水了", "give_feedback", ("dissatisfied", 0.8))
    assert "已经解决" not in await say_("空调修好了，对了，我家冰箱也坏了", "give_feedback")
    assert (await wired.cases.get(case.number)).events[-1].kind != "withdrawal_requested"

    for text, intent in [
        ("师傅已经修好了", "give_feedback"),
        ("问题解决了", "nlu_fallback"),
        ("已经没事了，不用派人来了", "deny"),
    ]:
        reply = await say_(text, intent)
        assert reply.startswith(f"太好了😊 已在投诉 {case.number} 上记下问题已经解决"), (text, reply)
        noted = await wired.cases.get(case.number)
        assert noted.events[-1].kind == "withdrawal_requested" and noted.events[-1].note.endswith(text)
        assert noted.status is Status.NEW  # an agent closes it
    # Asked after it: the call promised by tomorrow was still promised, as if nothing was said
    for asked in (
        await status("我的投诉怎么样了"),
        await status(f"查一下{case.number}", [entity("case_number", case.number)]),
    ):
        assert "您已告知我们不需要再处理，客服确认后会把它关闭" in asked and "前联系您" not in asked
    # the first, with nothing open, and the two that were no news of a problem gone
    assert [f.text for f in fake_uow.store.feedback] == [
        "师傅已经修好了",
        "修好了，但是又漏水了",
        "空调修好了，对了，我家冰箱也坏了",
    ]

    second = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "冰箱不制冷", "product_quality", "13812345678")
    )
    which = await say_("修好了", "give_feedback")
    assert "是哪一个解决了" in which and case.number in which and second.number in which
    both = (await status("我的投诉怎么样了")).split("—————")
    assert [("不需要再处理" in part, "前联系您" in part) for part in both[1:]] == [
        (False, True),
        (True, False),
    ]


async def test_status_lists_the_customers_open_cases(wired: Services) -> None:
    assert "没有处理中的投诉" in await status("我的投诉怎么样了")
    a = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "空调坏了", "installation_repair", "13812345678")
    )
    await wired.cases.open_case(CaseDraft("wx-2", "rest", "快递丢了", "delivery", "13912345678"))
    reply = await status("我的投诉怎么样了")
    assert a.number in reply and "已登记，等待受理" in reply and "快递丢了" not in reply


async def test_when_the_technician_comes_with_no_case_open_is_no_status_question(wired: Services) -> None:
    """ "师傅什么时候到" with no case open got "您目前没有处理中的投诉": the customer asked about the visit,
    which the bot cannot see, not about a complaint. With a case open it is about that case."""
    assert await status("师傅什么时候到") == render("arrival_unknown")
    assert await status("快递几点能送到") == render("arrival_unknown")
    assert "没有处理中的投诉" in await status("我的投诉什么时候处理")
    case = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "空调坏了", "installation_repair", "13812345678")
    )
    assert case.number in await status("师傅什么时候到")


async def test_a_status_question_after_the_case_was_finished_names_it(wired: Services, clock: Clock) -> None:
    """The day after resolution, "我的投诉怎么样了" got "您目前没有处理中的投诉", as if there had
    never been a complaint."""
    case = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "空调坏了", "installation_repair", "13812345678")
    )
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await wired.cases.change_status(case.number, step, actor="agent:wang")
    clock.now += timedelta(days=1)
    assert await status("我的投诉怎么样了") == (
        f"您目前没有处理中的投诉。最近的投诉 {case.number}（安装维修）已于 11月20日 10:30 处理完毕，"
        "目前是「已解决」。如果问题又出现了，直接描述给我就行。"
    )
    assert "没有处理中的投诉" in await status("我的投诉怎么样了", sender="wx-2")
    clock.now += timedelta(days=30)  # long ago: just nothing open
    assert (
        await status("我的投诉怎么样了") == "您目前没有处理中的投诉。如果遇到了问题，直接描述给我就可以登记。"
    )


async def test_a_case_number_asked_for_with_nothing_open_says_why_there_is_none(
    wired: Services, fake_uow: FakeUowFactory, clock: Clock
) -> None:
    """ "我没收到编号" with nothing on record got "您目前没有处理中的投诉…", the answer the status question
    before it had already had: no word that a complaint made by phone cannot be seen here."""
    dispatcher = CollectingDispatcher()
    events = await ValidateComplaintForm().run(
        dispatcher, tracker("我没收到编号", "complain", satisfaction=("dissatisfied", 0.7)), DOMAIN
    )
    assert [m["text"] for m in dispatcher.messages] == [render("no_case_number_here")]
    assert "电话" in render("no_case_number_here") and "转人工" in render("no_case_number_here")
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert not fake_uow.store.cases  # nothing filed
    # A plain status question is answered as before
    assert await status("我的投诉怎么样了") == render("no_open_cases")
    # Cases finished long ago: the latest one's number, which is what was asked for
    case = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "空调坏了", "installation_repair", "13812345678")
    )
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED):
        await wired.cases.change_status(case.number, step, actor="agent:wang")
    clock.now += timedelta(days=40)
    assert await status("我的投诉编号是多少") == (
        f"您目前没有处理中的投诉。您最近一次的投诉编号是 {case.number}（安装维修），目前是「已关闭」。"
        "如果是别的问题还没登记，直接描述给我就行。"
    )
    assert await status("我的投诉怎么样了") == render("no_open_cases")


async def test_status_by_number_discloses_nothing_about_others(wired: Services) -> None:
    theirs = await wired.cases.open_case(CaseDraft("wx-2", "rest", "快递丢了", "delivery", "13912345678"))
    reply = await status(f"查一下{theirs.number}", [entity("case_number", theirs.number)])
    unknown = await status("查一下C20991231-0001", [entity("case_number", "C20991231-0001")])
    assert "没有查到" in reply and "物流" not in reply and "1391" not in reply
    assert reply.replace(theirs.number, "X") == unknown.replace("C20991231-0001", "X")


async def test_chasing_a_case_is_recorded_on_it_for_the_agents(wired: Services) -> None:
    case = await wired.cases.open_case(
        CaseDraft("wx-1", "rest", "空调坏了", "installation_repair", "13812345678")
    )
    plain = await status("我的投诉怎么样了")
    assert "催办" not in plain  # a plain question records nothing
    for _ in range(2):
        reply = await status("都两天了怎么还没人联系我，能不能快点")
        assert case.number in reply and "已为您催办" in reply
    urged = [e for e in (await wired.cases.get(case.number)).events if e.kind == "urged"]
    assert [(e.actor, e.note) for e in urged] == [
        ("customer:wx-1", "都两天了怎么还没人联系我，能不能快点")
    ] * 2
    await wired.cases.record_urging(case.number, "快点", actor="customer:wx-1")
    assert [e.kind for e in (await wired.cases.get(case.number)).events].count("urged") == 3


async def test_a_chase_with_urgency_words_raises_the_case(wired: Services, clock: Clock) -> None:
    """ "我等不及了，再不处理我就打12315" was recorded as a chase and the case stayed P3 (12315 makes a
    new complaint P2); a chase that mentions smoke gets the safety advice and the P1 hour."""
    case = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "空调坏了", "installation_repair", "13812345678")
    )
    clock.now += timedelta(hours=2)
    reply = await status("我的投诉处理得怎么样了？我等不及了，再不处理我就打12315")
    raised = await wired.cases.get(case.number)
    assert raised.priority is Priority.P2
    assert f"已为您催办⏰ 投诉 {case.number} 已提高为「P2 紧急」，预计" in reply and "前联系您" in reply
    assert "优先级：P2 紧急" in reply and "P3" not in reply  # the listing shows the case as it is now
    assert [e.note for e in raised.events if e.kind == "priority_changed"] == ["客户补充的情况涉及：12315"]
    assert raised.first_response_due <= clock.now + timedelta(hours=4)
    assert "已为您催办⏰ 处理人员会看到" in await status("能不能快点")  # nothing new: a plain chase

    smoke = await status("怎么还没人来，空调都冒烟了")
    assert "安全第一" in smoke and "已提高为「P1 特急」" in smoke
    assert (await wired.cases.get(case.number)).priority is Priority.P1


@pytest.mark.parametrize("text", ["还是不脱水，根本没修好", "问题依旧", "还在漏水"])
async def test_a_problem_back_after_resolution_reopens_its_case(
    wired: Services, fake_uow: FakeUowFactory, clock: Clock, text: str
) -> None:
    """ "还是不脱水，根本没修好" answering the resolution notice started a new intake that asked for the
    order number and phone again and filed a second case; "问题依旧" and "还在漏水" did until the ninth
    session of 2026-12-06."""
    washer = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "洗衣机不脱水", "installation_repair", "13812345678")
    )
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await wired.cases.change_status(washer.number, step, actor="agent:li")
    clock.now += timedelta(days=2)

    slots, said = await validate(tracker(text, "complain", satisfaction=("dissatisfied", 0.9)))
    reopened = await wired.cases.get(washer.number)
    assert (reopened.status, reopened.priority) == (Status.REOPENED, Priority.P2)  # P3 → P2
    assert reopened.first_response_due > clock.now
    assert said == [
        f"非常抱歉问题还没有解决🙏 已重新打开您的投诉 {washer.number}（安装维修），您刚才说的情况已记下，"
        "我们会在 11月22日 14:30 前联系您。"
    ]
    assert slots["complaint_description"] is None and len(fake_uow.store.cases) == 1
    notes = [e.note for e in reopened.events if e.kind == "status_changed"]
    assert notes[-1] == "客户反映问题仍在"
    assert reopened.description == f"洗衣机不脱水\n{text}"  # what the worklist shows

    # Another matter is a new complaint, even right after: here the case is open again anyway
    other = await validate(tracker("另外快递也还没到", "complain", satisfaction=("dissatisfied", 0.9)))
    assert other[0]["complaint_description"] == "另外快递也还没到"


async def test_a_complaint_that_chases_an_open_case_is_a_chase_not_a_second_intake(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """ "都三天了还没人来" (heard as a complaint) from a customer with an open case started a second
    intake: "收到…我马上帮您登记投诉" and the order number asked for again."""
    fridge = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "冰箱不制冷", "product_quality", "13812345678")
    )
    dispatcher = CollectingDispatcher()
    chase = tracker("都三天了还没人来", "complain", satisfaction=("dissatisfied", 0.9))
    events = await ValidateComplaintForm().run(dispatcher, chase, DOMAIN)
    (reply,) = [m["text"] for m in dispatcher.messages]
    assert f"编号 {fridge.number}" in reply and "已为您催办" in reply and "登记投诉" not in reply
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert len(fake_uow.store.cases) == 1
    chased = await wired.cases.get(fridge.number)
    assert [e.note for e in chased.events if e.kind == "urged"] == ["都三天了还没人来"]

    # When will someone come: the case's status (with the time promised), no chase recorded
    dispatcher = CollectingDispatcher()
    when = tracker("什么时候派人来", "complain", satisfaction=("neutral", 0.96))
    events = await ValidateComplaintForm().run(dispatcher, when, DOMAIN)
    (reply,) = [m["text"] for m in dispatcher.messages]
    assert f"编号 {fridge.number}" in reply and "前联系您" in reply and "催办" not in reply
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert len(fake_uow.store.cases) == 1
    assert [e.kind for e in (await wired.cases.get(fridge.number)).events].count("urged") == 1

    # Not a chase: another matter, or no open case to chase
    other, _ = await validate(tracker("另外洗衣机也还没人来修", "complain"))
    assert other["complaint_description"] == "另外洗衣机也还没人来修"
    fresh, _ = await validate(tracker("都三天了还没人来", "complain", sender="wx-2"))
    assert fresh["complaint_description"] == "都三天了还没人来"
    new, _ = await validate(tracker("空调坏了，什么时候派人来修", "complain"))
    assert new["complaint_description"] == "空调坏了，什么时候派人来修"


@pytest.mark.parametrize(
    ("text", "intent", "action"),
    [
        ("师傅能不能改到明天下午来", "suggest", "feedback"),  # got "谢谢您的建议！"
        ("我要改预约时间", "nlu_fallback", "fallback"),  # got "您是想提建议吗？"
        ("能推迟到周六吗", "complain", "intake"),
    ],
)
async def test_a_visit_to_move_goes_onto_the_open_case(
    wired: Services, fake_uow: FakeUowFactory, text: str, intent: str, action: str
) -> None:
    from actions.fallback import ActionDefaultAskAffirmation

    async def answer(sender: str) -> tuple[list[dict], list[str]]:
        dispatcher = CollectingDispatcher()
        if action == "intake":
            events = await ValidateComplaintForm().run(
                dispatcher, tracker(text, intent, sender=sender), DOMAIN
            )
        else:
            run = ActionDefaultAskAffirmation().run if action == "fallback" else ActionRecordFeedback().run
            events = await run(dispatcher, tracker(text, intent, loop=None, sender=sender), DOMAIN)
        return events, [m.get("text") or "" for m in dispatcher.messages]

    washer = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "洗衣机漏水", "installation_repair", "13812345678")
    )
    events, said = await answer("wx-1")
    assert said == [
        f"好的，您的要求已记到投诉 {washer.number} 里，负责的同事安排上门时会和您确认时间📝 "
        "着急的话可以回复“转人工”。"
    ]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    noted = await wired.cases.get(washer.number)
    assert noted.description.endswith(f"客户要求：{text}") and len(fake_uow.store.cases) == 1
    assert fake_uow.store.feedback == []
    _, elsewhere = await answer("wx-2")  # nothing open: answered as before
    assert not any("已记到投诉" in line for line in elsewhere)


@pytest.mark.parametrize(
    ("text", "intent", "action"),
    [
        ("能不能快点，急用网络上班", "nlu_fallback", "fallback"),  # got "您是想提建议吗？"
        ("能不能快点", "suggest", "feedback"),  # got "谢谢您的建议！"
        ("怎么没人理我", "out_of_scope", "cannot_help"),  # got "这个我帮不上忙"
        ("都等了好几天了", "give_feedback", "feedback"),
    ],
)
async def test_a_chase_the_model_did_not_hear_as_one_is_still_a_chase(
    wired: Services, fake_uow: FakeUowFactory, text: str, intent: str, action: str
) -> None:
    broadband = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "宽带连不上网", "other", "13812345678")
    )
    events, dispatcher = await run_where_put(action, tracker(text, intent, loop=None))
    (reply,) = [m["text"] for m in dispatcher.messages]
    assert f"编号 {broadband.number}" in reply and "已为您催办" in reply
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    chased = await wired.cases.get(broadband.number)
    assert [e.note for e in chased.events if e.kind == "urged"] == [text]
    assert fake_uow.store.feedback == []

    # Without an open case the words are what the model heard, unless they are a bare chase
    events, dispatcher = await run_where_put(action, tracker(text, intent, sender="wx-2", loop=None))
    assert dispatcher.messages and not any("催办" in (m.get("text") or "") for m in dispatcher.messages)
    if text != "能不能快点":
        assert not [e for e in events if e["event"] == "active_loop"]


@pytest.mark.parametrize(
    ("text", "intent", "action"),
    [
        ("我想催一下", "nlu_fallback", "fallback"),  # got "您是想查询投诉进度吗？"
        ("能不能快点", "suggest", "feedback"),  # got "谢谢您的建议！已经记录…"
        ("帮我催催", "out_of_scope", "cannot_help"),  # got "抱歉，这个我帮不上忙"
        ("可以加急吗", "out_of_scope", "cannot_help"),
        ("赶紧的", "affirm", "inform"),  # got "请问您是要投诉反映问题，还是…"
        ("催单", "complain", "intake"),
    ],
)
async def test_a_bare_chase_with_nothing_open_is_told_so(
    wired: Services, fake_uow: FakeUowFactory, text: str, intent: str, action: str
) -> None:
    t = tracker(text, intent, loop="complaint_form" if action == "intake" else None)
    _, dispatcher = await run_where_put(action, t)
    assert [m["text"] for m in dispatcher.messages] == [render("no_open_cases")]
    assert not fake_uow.store.cases and fake_uow.store.feedback == []


@pytest.mark.parametrize(
    ("text", "intent", "action", "category"),
    [
        ("快点发货", "nlu_fallback", "fallback", "delivery"),  # got "您是想查询投诉进度吗？"
        ("能不能快点送到", "suggest", "feedback", "delivery"),  # got "谢谢您的建议！已经记录…"
        ("能不能快点安排师傅上门", "suggest", "feedback", "installation_repair"),
        ("快点退款", "ask_case_status", "status", "billing"),  # got "您目前没有处理中的投诉…"
        ("赶紧派人来修啊", "out_of_scope", "cannot_help", "installation_repair"),
    ],
)
async def test_a_chase_of_something_named_with_nothing_open_is_filed(
    wired: Services, fake_uow: FakeUowFactory, text: str, intent: str, action: str, category: str
) -> None:
    events, dispatcher = await run_where_put(action, tracker(text, intent, loop=None))
    assert dispatcher.messages == []
    assert [e["name"] for e in events if e["event"] == "followup"] == ["complaint_form"]
    assert fake_uow.store.feedback == []
    slots, said = await validate(tracker(text, intent, satisfaction=("dissatisfied", 0.6)))
    assert slots["complaint_description"] == text  # the intake takes the words, whatever the intent
    assert said == [render("ack_complaint")]
    assert slots["complaint_category"] == category  # "快点发货" got the category question
    # Mid-intake the same words are no new description
    later, _ = await validate(
        tracker(text, intent, requested="phone", slots={"complaint_description": "冰箱不制冷"})
    )
    assert "complaint_description" not in later


@pytest.mark.parametrize(
    ("text", "intent", "action"),
    [
        ("你们公司太坑了", "out_of_scope", "cannot_help"),  # got "这个我帮不上忙"
        ("你们这什么破服务", "out_of_scope", "cannot_help"),
        ("气死我了", "nlu_fallback", "fallback"),  # got "您是想投诉或反映问题吗？"
    ],
)
async def test_strong_displeasure_placed_nowhere_is_a_complaint_not_yet_told(
    wired: Services, fake_uow: FakeUowFactory, text: str, intent: str, action: str
) -> None:
    from actions.fallback import ActionDefaultAskAffirmation

    run = ActionDefaultAskAffirmation().run if action == "fallback" else ActionCannotHelp().run
    dispatcher = CollectingDispatcher()
    events = await run(
        dispatcher, tracker(text, intent, loop=None, satisfaction=("dissatisfied", 0.97)), DOMAIN
    )
    assert dispatcher.messages == []
    assert [e["name"] for e in events if e["event"] == "followup"] == ["complaint_form"]
    calm = CollectingDispatcher()  # the model unsure of displeasure: answered as before
    events = await run(calm, tracker(text, intent, loop=None, satisfaction=("dissatisfied", 0.6)), DOMAIN)
    assert calm.messages and not [e for e in events if e["event"] == "followup"]


@pytest.mark.parametrize("text", ["空调漏水怎么办", "电视黑屏了怎么弄"])
async def test_a_fault_asked_about_is_filed_not_beyond_help(wired: Services, text: str) -> None:
    """ "空调漏水怎么办" (out of scope to the model) got "抱歉，这个我帮不上忙"."""
    dispatcher = CollectingDispatcher()
    t = tracker(text, "out_of_scope", loop=None, satisfaction=("dissatisfied", 0.5))
    events = await ActionCannotHelp().run(dispatcher, t, DOMAIN)
    assert dispatcher.messages == []
    assert [e["name"] for e in events if e["event"] == "followup"] == ["complaint_form"]
    slots, _ = await validate(tracker(text, "out_of_scope", satisfaction=("dissatisfied", 0.5)))
    assert slots["complaint_description"] == text


@pytest.mark.parametrize("text", ["你们公司太坑了", "太让人失望了", "真是太过分了"])
async def test_a_vent_is_asked_what_happened_not_filed_as_it_is(wired: Services, text: str) -> None:
    """ "你们公司太坑了" tells the agent nothing: the intake asks for the problem, as for "我要投诉"."""
    slots, said = await validate(tracker(text, "complain", satisfaction=("dissatisfied", 0.97)))
    assert slots.get("complaint_description") is None
    assert said == []  # no "收到…马上帮您登记投诉": the form asks for the description next


async def test_a_problem_back_with_danger_in_it_reopens_the_case_at_p1(wired: Services) -> None:
    aircon = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "空调不制冷", "installation_repair", "13812345678")
    )
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await wired.cases.change_status(aircon.number, step, actor="agent:li")
    _, said = await validate(
        tracker("还是不行，现在还冒烟了", "complain", satisfaction=("dissatisfied", 0.9))
    )
    assert (await wired.cases.get(aircon.number)).priority is Priority.P1
    assert "安全第一" in said[0] and aircon.number in said[1]


async def test_a_problem_back_reopens_a_case_filed_as_other(wired: Services, clock: Clock) -> None:
    """A request for a person at night files its case under 其他问题: any category may follow it."""
    night = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "非工作时间转人工：洗衣机漏水", "other", None, source="handoff")
    )
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await wired.cases.change_status(night.number, step, actor="agent:li")
    named = [entity("complaint_category", "installation_repair", 0.9, "ComplaintCategoryClassifier")]
    _, said = await validate(
        tracker("还是漏水，楼下又被淹了", "complain", named, satisfaction=("dissatisfied", 0.9))
    )
    assert (await wired.cases.get(night.number)).status is Status.REOPENED and night.number in said[0]


@pytest.mark.parametrize(
    ("text", "category", "days"),
    [
        ("冰箱又坏了", "product_quality", 2),  # names another category than the washer's case
        ("还是不脱水", None, 40),  # finished too long ago
        ("我家洗衣机不脱水", None, 2),  # does not say it is back
    ],
)
async def test_a_new_complaint_is_not_taken_for_a_problem_back(
    wired: Services, fake_uow: FakeUowFactory, clock: Clock, text: str, category: str | None, days: int
) -> None:
    washer = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "洗衣机不脱水", "installation_repair", "13812345678")
    )
    for step in (Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESOLVED):
        await wired.cases.change_status(washer.number, step, actor="agent:li")
    clock.now += timedelta(days=days)
    entities = (
        [entity("complaint_category", category, 0.9, "ComplaintCategoryClassifier")] if category else []
    )
    slots, _ = await validate(tracker(text, "complain", entities, satisfaction=("dissatisfied", 0.9)))
    assert slots["complaint_description"] == text
    assert (await wired.cases.get(washer.number)).status is Status.RESOLVED


async def test_suggestions_are_recorded(wired: Services, fake_uow: FakeUowFactory) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("建议周末也能上门", "suggest")
    await ActionRecordFeedback().run(dispatcher, t, DOMAIN)
    (entry,) = fake_uow.store.feedback
    assert entry.kind == "suggestion" and entry.text == "建议周末也能上门"
    assert "建议" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize(
    ("text", "ranking", "entities", "expected"),
    [
        ("洗衣机安装完一直漏水", {"inform": 0.49, "complain": 0.41}, [], "followup:complaint_form"),
        ("13812345678", {"inform": 0.98, "complain": 0.01}, [entity("phone", "13812345678")], "ask"),
        (  # a complaint with its details: it got "您是要投诉反映问题，还是…", then the order question
            "订单号JD2026112012345 电视买回来就黑屏 电话13812345678",
            {"inform": 1.0, "complain": 0.0},
            [
                {**entity("order_id", "JD2026112012345"), "start": 3, "end": 18},
                {**entity("phone", "13812345678"), "start": 31, "end": 42},
            ],
            "followup:complaint_form",
        ),
        ("这是我的电话13812345678", {"inform": 0.98}, [entity("phone", "13812345678")], "ask"),
        (
            "C20261120-0007",
            {"inform": 0.7, "ask_case_status": 0.2},
            [entity("case_number", "C20261120-0007")],
            "status",  # answered at once: a follow-up action left the core fallback to hand over
        ),
    ],
)
async def test_information_out_of_context_is_routed(
    text: str, ranking: dict[str, float], entities: list[dict], expected: str
) -> None:
    from actions.intake import ActionRouteInform

    t = tracker(text, "inform", entities)
    t.latest_message["intent_ranking"] = [{"name": k, "confidence": v} for k, v in ranking.items()]
    dispatcher = CollectingDispatcher()
    events = await ActionRouteInform().run(dispatcher, t, DOMAIN)
    if expected == "ask":
        assert events == [] and "投诉" in dispatcher.messages[0]["text"]
    elif expected == "status":
        assert events == [] and "没有查到编号为 C20261120-0007 的投诉记录" in dispatcher.messages[0]["text"]
    else:
        assert [f"followup:{e['name']}" for e in events if e["event"] == "followup"] == [expected]
        assert dispatcher.messages == []


async def test_an_order_number_or_phone_sent_after_filing_corrects_the_open_case(wired: Services) -> None:
    from actions.intake import ActionRouteInform

    older = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "宽带断了两天", "other", "13812345678", order_id="JD2026112800001")
    )
    case = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "洗衣机不脱水", "installation_repair", "13812345678", "JD2026112800123")
    )

    async def route(text: str, *entities: dict) -> str:
        dispatcher = CollectingDispatcher()
        t = tracker(text, "inform", list(entities))
        t.latest_message["intent_ranking"] = [{"name": "inform", "confidence": 0.9}]
        assert await ActionRouteInform().run(dispatcher, t, DOMAIN) == []
        return "\n".join(m["text"] for m in dispatcher.messages)

    said = await route("订单号发错了，应该是JD2026112800456", entity("order_id", "JD2026112800456"))
    assert said == f"好的，已把投诉 {case.number} 的订单号改为 JD2026112800456，处理人员会以此为准。"
    said = await route("我换手机号了，新号码13987654321", entity("phone", "13987654321"))
    assert "联系电话改为 139****4321" in said and case.number in said
    said = await route(
        f"{older.number}的订单号是JD2026112800002",
        entity("case_number", older.number),
        entity("order_id", "JD2026112800002"),
    )
    assert older.number in said and "订单号改为 JD2026112800002" in said
    newest, first = await wired.cases.get(case.number), await wired.cases.get(older.number)
    assert (newest.order_id, newest.phone) == ("JD2026112800456", "13987654321")
    assert first.order_id == "JD2026112800002"
    corrected = [(e.note, e.from_value, e.to_value) for e in newest.events if e.kind == "details_corrected"]
    assert corrected == [
        ("客户更正订单号", "JD2026112800123", "JD2026112800456"),
        ("客户更正联系电话", "13812345678", "13987654321"),
    ]
    assert await wired.cases.known_phone("wx-1") == "13987654321"  # the next complaint offers it

    nobody = CollectingDispatcher()  # no open case: the customer is asked what they want
    t = tracker("JD2026112800789", "inform", [entity("order_id", "JD2026112800789")], sender="wx-9")
    t.latest_message["intent_ranking"] = [{"name": "inform", "confidence": 0.9}]
    await ActionRouteInform().run(nobody, t, DOMAIN)
    assert "请问您是要投诉反映问题" in nobody.messages[0]["text"]


@pytest.mark.parametrize(
    ("text", "intent", "satisfaction", "answer"),
    [
        ("嗯嗯好的", "affirm", ("neutral", 0.9), "utter_anything_else"),
        ("不用了，谢谢", "deny", ("neutral", 0.9), "utter_anything_else"),
        # Read as a "no" by the model: "好的" would agree to a wrong bill or to a cancelled order.
        ("账单不对", "deny", ("dissatisfied", 0.9), "inform_without_context"),
        ("取消订单", "deny", ("neutral", 0.8), "cancel_needs_person"),  # a person does it
    ],
)
async def test_a_yes_or_no_out_of_context_is_only_agreed_with_when_it_is_bare(
    text: str, intent: str, satisfaction: tuple[str, float], answer: str
) -> None:
    from actions.intake import ActionRouteInform

    dispatcher = CollectingDispatcher()
    events = await ActionRouteInform().run(
        dispatcher, tracker(text, intent, satisfaction=satisfaction, loop=None), DOMAIN
    )
    assert events == []
    (said,) = dispatcher.messages
    if answer == "inform_without_context":
        assert said["text"] == "收到。请问您是要投诉反映问题，还是查询之前投诉的进度呢？"
    elif answer == "cancel_needs_person":
        assert said["text"] == render(answer) and said["buttons"][0]["payload"] == "/request_human"
    else:
        assert said["response"] == answer


@pytest.mark.parametrize(("text", "intent"), [("嗯嗯那个啥", "affirm"), ("取消订单", "deny")])
async def test_a_yes_or_no_the_intake_did_not_take_is_not_met_with_what_the_bot_cannot_do(
    text: str, intent: str
) -> None:
    """ "嗯嗯那个啥" at the summary (a yes to the model, not to the form) got "抱歉，这个我帮不上忙😅
    我可以帮您投诉反映问题…" in the middle of filing a complaint, and then the summary."""
    from actions.intake import ActionRouteInform

    dispatcher = CollectingDispatcher()
    t = tracker(text, intent, requested="complaint_confirmed")
    assert await ActionRouteInform().run(dispatcher, t, DOMAIN) == []
    assert [m["text"] for m in dispatcher.messages] == ["抱歉，这句话我没能理解🙏"]


@pytest.mark.parametrize(
    ("text", "intent", "action"),
    [
        ("客服热线多少", "out_of_scope", "cannot_help"),  # got "抱歉，这个我帮不上忙"
        ("售后电话", "nlu_fallback", "fallback"),  # got "您是想打个招呼吗？"
        ("给我一个联系电话", "inform", "inform"),  # started an intake
        ("投诉电话是多少", "complain", "intake"),  # the intake's first question
        ("你们的客服电话是多少", "request_human", "human"),  # queued for a person and a case filed
    ],
)
@pytest.mark.parametrize("hotline", ["400-800-1234", ""])
async def test_asking_for_the_service_number_is_answered_wherever_the_model_put_it(
    wired: Services, fake_uow: FakeUowFactory, text: str, intent: str, action: str, hotline: str
) -> None:
    import dataclasses

    wired.settings = dataclasses.replace(wired.settings, hotline=hotline)
    t = tracker(text, intent, loop="complaint_form" if action == "intake" else None)
    events, dispatcher = await run_where_put(action, t)
    if action == "human" and not hotline:  # nothing to give: the person asked about is what they get
        assert ("pause", None) in [(e["event"], e.get("name")) for e in events]
        return
    (answer,) = dispatcher.messages
    if hotline:
        assert (
            answer["text"] == render("contact_hotline", hotline=hotline) and "400-800-1234" in answer["text"]
        )
    else:
        assert answer["text"] == render("contact_here")
    assert [b["payload"] for b in answer["buttons"]] == ["/request_human"]
    assert not any(
        e["event"] == "slot" and e.get("name") == "complaint_description" and e.get("value") for e in events
    )
    if action in ("intake", "fallback"):  # the loop the question landed in is left
        assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert fake_uow.store.cases == {} and await wired.handoffs.open_for("wx-1") is None


@pytest.mark.parametrize(
    ("text", "intent", "action"),
    [
        ("我要取消我的订单", "complain", "intake"),  # got "非常抱歉给您添麻烦了，我马上帮您登记投诉"
        ("能不能把订单取消了", "suggest", "feedback"),  # got "谢谢您的建议！已经记录并转给相关团队参考"
        ("帮我取消订单", "out_of_scope", "cannot_help"),  # got "这个我帮不上忙…"
        ("订单不要了，取消吧", "deny", "inform"),
        ("取消预约", "nlu_fallback", "fallback"),
    ],
)
async def test_a_request_to_cancel_an_order_is_for_a_person_wherever_the_model_put_it(
    wired: Services, fake_uow: FakeUowFactory, text: str, intent: str, action: str
) -> None:
    t = tracker(text, intent, loop="complaint_form" if action == "intake" else None)
    events, dispatcher = await run_where_put(action, t)
    assert [(m["text"], [b["payload"] for b in m["buttons"]]) for m in dispatcher.messages] == [
        (render("cancel_needs_person"), ["/request_human"])
    ]
    assert not any(
        e["event"] == "slot" and e.get("name") == "complaint_description" and e.get("value") for e in events
    )
    if action in ("intake", "fallback"):
        assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert fake_uow.store.cases == {} and fake_uow.store.feedback == []


@pytest.mark.parametrize(("intent", "action"), [("out_of_scope", "cannot_help"), ("suggest", "feedback")])
async def test_a_visit_of_an_open_case_to_call_off_goes_onto_the_case(
    wired: Services, intent: str, action: str
) -> None:
    """With an installation case open, "明天的安装预约帮我取消一下" is for the person arranging the visit."""
    case = await wired.cases.open_case(CaseDraft("wx-1", "wechat", "空调装歪了", "installation_repair", None))
    text = "明天的安装预约帮我取消一下"
    _, dispatcher = await run_where_put(action, tracker(text, intent, loop=None))
    assert [m["text"] for m in dispatcher.messages] == [
        render("visit_request_noted", case_number=case.number)
    ]
    assert (await wired.cases.get(case.number)).description.endswith(f"客户要求：{text}")


async def test_a_cancelled_order_complained_about_is_still_a_complaint(wired: Services) -> None:
    """ "我要取消订单，你们发货太慢了" says what went wrong: it is filed."""
    slots, said = await validate(tracker("我要取消订单，你们发货太慢了", "complain"))
    assert slots["complaint_description"] == "我要取消订单，你们发货太慢了"
    assert said == [render("ack_complaint")]


async def test_trouble_with_the_phone_line_is_still_a_complaint(wired: Services) -> None:
    slots, _ = await validate(tracker("你们客服电话一直打不通", "complain"))
    assert slots["complaint_description"] == "你们客服电话一直打不通"


@pytest.mark.parametrize(
    ("text", "requested", "said", "category"),
    [
        ("1", "order_id", "订单号格式不太对", None),
        ("2", "phone", "11位手机号", None),
        ("１", "complaint_category", None, "product_quality"),  # the first option of the menu
        ("4", "complaint_category", None, "installation_repair"),
        ("3", "complaint_description", None, None),
    ],
)
async def test_a_bare_number_at_an_intake_question_is_no_score(
    fake_uow: FakeUowFactory, text: str, requested: str, said: str | None, category: str | None
) -> None:
    """ "1" at the order question got "谢谢您的评分（1分）！非常抱歉这次的体验让您不满意…" and was kept as
    a one-point score."""
    dispatcher = CollectingDispatcher()
    t = tracker(text, "give_rating", [entity("rating", int(text))], requested=requested)
    events = await ActionRecordFeedback().run(dispatcher, t, DOMAIN)
    assert fake_uow.store.feedback == []
    texts = [m["text"] for m in dispatcher.messages]
    assert not any("评分" in s for s in texts)
    assert texts == [] if said is None else (len(texts) == 1 and said in texts[0])
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"} == (
        {} if category is None else {"complaint_category": category}
    )


async def test_a_score_written_as_one_mid_intake_is_still_thanked(fake_uow: FakeUowFactory) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker("5分", "give_rating", [entity("rating", 5)], requested="order_id")
    await ActionRecordFeedback().run(dispatcher, t, DOMAIN)
    assert [f.rating for f in fake_uow.store.feedback] == [5]


async def test_more_about_the_problem_at_a_later_question_is_acknowledged(wired: Services) -> None:
    """ "我家冰箱", then "不制冷了" at the order question: kept, but the order question came again word
    for word, as if nothing had been heard (seen live)."""
    t = tracker("不制冷了", "complain", requested="order_id", slots={"complaint_description": "我家冰箱"})
    slots, said = await validate(t)
    assert slots["complaint_description"] == "我家冰箱\n不制冷了"
    assert said == ["好的，已补充到问题描述里📝"]


async def test_sure_praise_heard_as_a_complaint_is_thanked_not_filed(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """Long praise is "complain" to the intent model: it got "收到，非常抱歉给您添麻烦了，我马上帮您登记
    投诉" and the order question (seen live)."""
    text = "嘎嘎好，师傅老实在了，修完还帮俺把厨房灯泡换了"
    dispatcher = CollectingDispatcher()
    events = await ValidateComplaintForm().run(
        dispatcher, tracker(text, "complain", satisfaction=("satisfied", 0.99)), DOMAIN
    )
    assert ("active_loop", None) in [(e["event"], e.get("name")) for e in events]
    assert [m["text"] for m in dispatcher.messages] == [render("thanks_for_feedback")]
    (entry,) = fake_uow.store.feedback
    assert (entry.kind, entry.text, entry.satisfaction) == ("feedback", text, "satisfied")
    again = CollectingDispatcher()  # the fault back after a visit is no praise, whatever the model hears
    events = await ValidateComplaintForm().run(
        again,
        tracker("我家空调不制冷了，师傅上周刚修过", "complain", satisfaction=("satisfied", 0.91)),
        DOMAIN,
    )
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"}["complaint_description"]
    assert [m["text"] for m in again.messages] == [render("ack_complaint")]
    doubted = CollectingDispatcher()  # a score named: the worker may have pressed for it
    events = await ValidateComplaintForm().run(
        doubted, tracker("师傅自己拿我手机点了五星", "complain", satisfaction=("satisfied", 0.9)), DOMAIN
    )
    assert ("active_loop", None) not in [(e["event"], e.get("name")) for e in events]
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"}["complaint_description"]


async def test_a_message_with_no_problem_in_it_is_asked_about_not_filed(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """ "我到前台了" is "complain" to the intent model: it got "收到，非常抱歉给您添麻烦了，我马上帮您登记
    投诉" and the category question (seen live), and became a case's description."""
    dispatcher = CollectingDispatcher()
    events = await ValidateComplaintForm().run(
        dispatcher, tracker("我到前台了", "complain", satisfaction=("neutral", 0.98)), DOMAIN
    )
    assert ("active_loop", None) in [(e["event"], e.get("name")) for e in events]
    assert [m["text"] for m in dispatcher.messages] == [render("inform_without_context")]
    assert not fake_uow.store.cases
    slots, said = await validate(tracker("还没上门", "complain", satisfaction=("neutral", 0.98)))
    assert slots["complaint_description"] == "还没上门" and said == [render("ack_complaint")]
    asked, _ = await validate(  # the description question was asked: an answer, whatever it says
        tracker(
            "海尔的热水器，买了三年了",
            "complain",
            requested="complaint_description",
            satisfaction=("neutral", 0.97),
        )
    )
    assert asked["complaint_description"] == "海尔的热水器，买了三年了"
    person = CollectingDispatcher()  # a person asked for: the person, not the question
    events = await ValidateComplaintForm().run(
        person, tracker("我到前台了，找人工", "complain", satisfaction=("neutral", 0.98)), DOMAIN
    )
    said = [m["text"] for m in person.messages]
    assert render("inform_without_context") not in said and said[-1].startswith("已为您转接人工客服")


async def test_words_with_no_problem_in_them_join_the_problem_told_next(wired: Services) -> None:
    """ "海尔的热水器，买了三年了" is asked about; "不出热水了" next says what is wrong with it."""
    slots, _ = await validate(unplaced_then("海尔的热水器，买了三年了", "不出热水了", guessed=False))
    assert slots["complaint_description"] == "海尔的热水器，买了三年了\n不出热水了"


async def test_a_greeting_before_an_empty_complaint_is_no_description(wired: Services) -> None:
    """ "你好，我想反映个问题" got "收到，非常抱歉给您添麻烦了，我马上帮您登记投诉" and the category
    question about a problem not yet told."""
    slots, said = await validate(tracker("你好，我想反映个问题", "complain", requested=None))
    assert not slots.get("complaint_description") and render("ack_complaint") not in said


async def test_a_purchase_with_no_problem_named_is_asked_about_not_apologised_for(
    wired: Services, fake_uow: FakeUowFactory
) -> None:
    """ "我上个月在你们这买的洗衣机" is a displeased complaint to the models: it got "非常抱歉给您添麻烦了，
    我马上帮您登记投诉" and the order question before anything was wrong with the washing machine."""
    dispatcher = CollectingDispatcher()
    events = await ValidateComplaintForm().run(
        dispatcher,
        tracker("我上个月在你们这买的洗衣机", "complain", satisfaction=("dissatisfied", 0.93)),
        DOMAIN,
    )
    assert ("active_loop", None) in [(e["event"], e.get("name")) for e in events]
    assert [m["text"] for m in dispatcher.messages] == [
        "收到。请问洗衣机遇到了什么问题？直接描述给我就行，我来帮您登记。"
    ]
    assert not fake_uow.store.cases
    slots, said = await validate(  # the problem in the same message: filed as before
        tracker("我上个月在你们这买的洗衣机，脱水响声特别大", "complain", satisfaction=("dissatisfied", 0.9))
    )
    assert slots["complaint_description"] == "我上个月在你们这买的洗衣机，脱水响声特别大"
    assert said == [render("ack_complaint")]


@pytest.mark.parametrize(
    ("text", "intent", "action"),
    [
        ("我家空调", "out_of_scope", ActionCannotHelp),  # got "抱歉，这个我帮不上忙"
        ("家里的热水器", "nlu_fallback", ActionDefaultAskAffirmation),
        ("我们家那台冰箱", "inform", ActionRouteInform),  # got "您是要投诉反映问题，还是…"
    ],
)
async def test_a_thing_at_home_and_nothing_more_is_asked_about(
    wired: Services, text: str, intent: str, action: type
) -> None:
    """WeChat customers send the problem in the next message: "我家空调", then "不制冷了", and the case
    said only "不制冷了"."""
    dispatcher = CollectingDispatcher()
    await action().run(dispatcher, tracker(text, intent, loop=None), DOMAIN)
    thing = text.removeprefix("我家").removeprefix("家里的").removeprefix("我们家那台")
    assert [m["text"] for m in dispatcher.messages] == [render("purchase_without_problem", thing=thing)]
    then = parsed("不制冷了", "complain", satisfaction=("dissatisfied", 0.9))
    t = tracker(text, intent, loop=None)
    t.events += [
        {"event": "bot", "text": dispatcher.messages[0]["text"]},
        {"event": "user", "text": "不制冷了", "parse_data": then},
    ]
    t.latest_message = then
    slots, _ = await validate(t)
    assert slots["complaint_description"] == f"{text}\n不制冷了"


def purchase_then(then: str, category: str, confidence: float) -> Tracker:
    """ "上周你们给我装的空调" (with the category model's guess), the bot's question, then ``then``."""
    first = "上周你们给我装的空调"
    guess = entity("complaint_category", category, confidence, "ComplaintCategoryClassifier")
    later = parsed(then, "complain", satisfaction=("dissatisfied", 0.9))
    events = [
        {
            "event": "user",
            "text": first,
            "parse_data": parsed(first, "complain", [guess]),
            "timestamp": 1000.0,
        },
        {"event": "action", "name": "validate_complaint_form"},
        {"event": "bot", "text": render("purchase_without_problem", thing="空调")},
        {"event": "active_loop", "name": None},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": then, "parse_data": later, "timestamp": 1030.0},
    ]
    return Tracker("wx-1", {"requested_slot": None}, later, events, False, None, {}, "action_listen")


@pytest.mark.parametrize(
    ("then", "category", "confidence", "description", "filed_as"),
    [
        ("不制冷", "installation_repair", 0.9, "上周你们给我装的空调\n不制冷", "installation_repair"),
        (
            "一直滴水，地板都湿了",
            "installation_repair",
            0.9,
            "上周你们给我装的空调\n一直滴水，地板都湿了",
            "installation_repair",
        ),
        ("不制冷", "installation_repair", 0.3, "上周你们给我装的空调\n不制冷", None),  # a weak guess is asked
        ("投诉", "installation_repair", 0.9, "上周你们给我装的空调", "installation_repair"),
    ],
)
async def test_the_problem_named_after_the_purchase_joins_it_with_its_category(
    wired: Services, then: str, category: str, confidence: float, description: str, filed_as: str | None
) -> None:
    """ "不制冷" to "请问空调遇到了什么问题？" was dropped (four characters or fewer "describe" nothing),
    and the category question was asked about an air conditioner the first words said was installed."""
    slots, said = await validate(purchase_then(then, category, confidence))
    assert slots["complaint_description"] == description
    assert slots.get("complaint_category") == filed_as
    assert said == [render("ack_complaint")]


@pytest.mark.parametrize(
    ("then", "intent", "action"),
    [
        ("声音很大", "nlu_fallback", ActionDefaultAskAffirmation),  # was "您是想评价我们的服务吗？"
        ("制冷效果差", "give_feedback", ActionRecordFeedback),  # was thanked for
        ("尺寸不对", "deny", ActionRouteInform),
    ],
)
async def test_any_displeased_answer_to_what_went_wrong_starts_the_intake(
    wired: Services, then: str, intent: str, action: type
) -> None:
    t = purchase_then(then, "installation_repair", 0.9)
    answer = parsed(then, intent, satisfaction=("dissatisfied", 0.9))
    t.latest_message, t.events[-1] = answer, {**t.events[-1], "parse_data": answer}
    dispatcher = CollectingDispatcher()
    events = await action().run(dispatcher, t, DOMAIN)
    assert [e.get("name") for e in events if e["event"] == "followup"] == ["complaint_form"]
    assert dispatcher.messages == []
    slots, _ = await validate(t)
    assert slots["complaint_description"] == f"上周你们给我装的空调\n{then}"
    calm = parsed(then, intent, satisfaction=("neutral", 0.9))  # not displeased: no problem told
    t.latest_message, t.events[-1] = calm, {**t.events[-1], "parse_data": calm}
    events = await action().run(CollectingDispatcher(), t, DOMAIN)
    assert "complaint_form" not in [e.get("name") for e in events if e["event"] == "followup"]


def yes_then(then: str, intent: str = "complain") -> Tracker:
    """ "上周你们给我装的空调", the bot's question, "对", the bot's question again, then ``then``."""
    t = purchase_then("对", "installation_repair", 0.9)
    later = parsed(then, intent, satisfaction=("dissatisfied", 0.9))
    t.events += [
        {"event": "bot", "text": render("purchase_fault_asked_again", thing="空调")},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": then, "parse_data": later, "timestamp": 1060.0},
    ]
    t.latest_message = later
    return t


async def test_a_yes_to_what_went_wrong_is_asked_which_and_the_answer_joins_the_purchase(
    wired: Services,
) -> None:
    """ "对" to "请问空调遇到了什么问题？" started the intake with "上周你们给我装的空调" as the whole
    description, and the fault was asked for nowhere."""
    t = purchase_then("对", "installation_repair", 0.9)
    yes = parsed("对", "affirm")
    t.latest_message, t.events[-1] = yes, {**t.events[-1], "parse_data": yes}
    dispatcher = CollectingDispatcher()
    events = await ActionRouteInform().run(dispatcher, t, DOMAIN)
    assert [e for e in events if e["event"] == "followup"] == []
    assert [m["text"] for m in dispatcher.messages] == [render("purchase_fault_asked_again", thing="空调")]
    slots, said = await validate(yes_then("不制冷"))
    assert slots["complaint_description"] == "上周你们给我装的空调\n不制冷"
    assert slots.get("complaint_category") == "installation_repair"
    assert said == [render("ack_complaint")]
    events = await ActionRouteInform().run(CollectingDispatcher(), yes_then("尺寸不对", "deny"), DOMAIN)
    assert [e.get("name") for e in events if e["event"] == "followup"] == ["complaint_form"]


@pytest.mark.parametrize("requested", ["order_id", "phone"])
async def test_a_few_words_of_the_problem_at_the_order_question_are_added_not_a_bad_number(
    wired: Services, requested: str
) -> None:
    """ "我上周买的冰箱", then "不制冷" to the order question: "订单号格式不太对", and the words lost."""
    t = tracker(
        "不制冷",
        "complain",
        requested=requested,
        slots={"complaint_description": "我上周买的冰箱"},
        satisfaction=("dissatisfied", 0.8),
    )
    slots, said = await validate(t)
    assert slots["complaint_description"] == "我上周买的冰箱\n不制冷"
    assert said == [render("detail_added")] and requested not in slots
    bare, _ = await validate(  # "嗯" is no detail: the question again, as before
        tracker("嗯", "affirm", requested=requested, slots={"complaint_description": "我上周买的冰箱"})
    )
    assert "complaint_description" not in bare


@pytest.mark.parametrize("chosen", [False, True])
async def test_a_category_read_from_the_detail_replaces_other_guessed_from_too_little(
    wired: Services, chosen: bool
) -> None:
    """ "我要投诉", "你们的快递员" (其他问题 to the model), then "把我的包裹放在楼下就走了，东西被人拿走了" at
    the order question: the detail was added, the case stayed under 其他问题. One the customer chose
    from the menu stays."""
    text = "把我的包裹放在楼下就走了，东西被人拿走了"
    slots = {"complaint_description": "你们的快递员", "complaint_category": "other"}
    read = [entity("complaint_category", "delivery", 0.8, "ComplaintCategoryClassifier")]
    t = tracker(text, "complain", read, requested="order_id", slots=slots, satisfaction=("dissatisfied", 0.9))
    earlier: list[dict[str, Any]] = [
        {"event": "user", "text": "你们的快递员", "parse_data": parsed("你们的快递员", "complain")},
        {"event": "active_loop", "name": "complaint_form"},
    ]
    if chosen:
        earlier.append({"event": "slot", "name": "requested_slot", "value": "complaint_category"})
    t.events[:0] = earlier
    got, said = await validate(t)
    assert got["complaint_description"] == f"你们的快递员\n{text}" and said == [render("detail_added")]
    assert got.get("complaint_category", "other") == ("other" if chosen else "delivery")


async def test_the_problem_told_at_the_order_question_is_kept_whatever_the_model_made_of_it(
    wired: Services,
) -> None:
    """ "我要投诉快递", then "快递员态度很差，还把我的东西扔地上" at the order question (nlu_fallback to
    the model): "订单号格式不太对", and the case said only "我要投诉快递"."""
    text = "快递员态度很差，还把我的东西扔地上"
    slots = {"complaint_description": "我要投诉快递", "complaint_category": "delivery"}
    t = tracker(text, "nlu_fallback", requested="order_id", slots=slots, satisfaction=("dissatisfied", 0.99))
    got, said = await validate(t)
    assert got["complaint_description"] == f"我要投诉快递\n{text}"
    assert said == [render("detail_added")] and "order_id" not in got
    unsure = tracker(text, "nlu_fallback", requested="order_id", slots=slots, satisfaction=("neutral", 0.6))
    got, _ = await validate(unsure)  # the model unsure of displeasure: left as before
    assert "complaint_description" not in got


async def test_a_new_phone_in_the_middle_of_the_intake_is_no_detail_of_the_problem(wired: Services) -> None:
    """ "我换手机号了，新号码139…" at the category question joined the description (and was acknowledged
    as more about the problem) besides setting the phone."""
    text = "我换手机号了，新号码13987654321"
    phone = {**entity("phone", "13987654321"), "start": 10, "end": 21}
    t = tracker(
        text, "inform", [phone], requested="complaint_category", slots={"complaint_description": "电视黑屏"}
    )
    slots, said = await validate(t)
    assert slots.get("complaint_description", "电视黑屏") == "电视黑屏"
    assert slots["phone"] == "13987654321"
    assert said == ["好的，联系电话已记下（139****4321）。"]


async def test_a_phone_pointed_at_is_no_detail_of_the_problem(wired: Services) -> None:
    """ "手机号就是这个号 137…" at the order question (seen live) was acknowledged as more about the
    problem, and "手机号就是这个号" joined the case's description."""
    text = "手机号就是这个号 13700001111"
    phone = {**entity("phone", "13700001111"), "start": 9, "end": 20}
    t = tracker(text, "inform", [phone], requested="order_id", slots={"complaint_description": "多扣了话费"})
    slots, said = await validate(t)
    assert slots.get("complaint_description", "多扣了话费") == "多扣了话费"
    assert slots["phone"] == "13700001111"
    assert said == ["好的，联系电话已记下（137****1111）。"]


@pytest.mark.parametrize(
    ("first", "then", "intent", "description"),
    [
        ("快递", "三天了还没到", "complain", "快递，三天了还没到"),  # the case said only "三天了还没到"
        ("嗯", "空调漏水了", "complain", "空调漏水了"),  # nothing to keep
        ("洗衣机", "不脱水", "deny", "洗衣机，不脱水"),  # a "no" to the model: it cancelled the intake
        ("电视", "不显示", "deny", "电视，不显示"),
    ],
)
async def test_a_word_too_short_to_describe_the_problem_joins_what_follows(
    wired: Services, first: str, then: str, intent: str, description: str
) -> None:
    at = 1796496443.0
    later = parsed(then, intent, satisfaction=("dissatisfied", 0.9))
    events = [
        {
            "event": "user",
            "text": "我要投诉",
            "parse_data": parsed("我要投诉", "complain"),
            "timestamp": at - 20,
        },
        {
            "event": "bot",
            "text": "很抱歉给您带来不便。请简单描述一下遇到的问题，比如什么产品/服务、发生了什么。",
        },
        {"event": "user", "text": first, "parse_data": parsed(first, "inform"), "timestamp": at},
        {"event": "bot", "text": render("description_too_short")},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": then, "parse_data": later, "timestamp": at + 30},
    ]
    t = Tracker(
        "wx-1",
        {"requested_slot": "complaint_description"},
        later,
        events,
        False,
        None,
        {"name": "complaint_form"},
        "action_listen",
    )
    slots, _ = await validate(t)
    assert slots["complaint_description"] == description


@pytest.mark.parametrize("text", ["我没收到编号", "没有收到投诉编号啊"])
async def test_a_case_number_not_received_is_a_status_question_not_a_complaint(
    wired: Services, fake_uow: FakeUowFactory, text: str
) -> None:
    """ "我没收到编号" (a complaint to the model) started an intake with itself as the description."""
    heater = await wired.cases.open_case(
        CaseDraft("wx-1", "wechat", "热水器不出热水", "product_quality", None)
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateComplaintForm().run(
        dispatcher, tracker(text, "complain", satisfaction=("dissatisfied", 0.7)), DOMAIN
    )
    assert heater.number in dispatcher.messages[0]["text"]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert len(fake_uow.store.cases) == 1


async def test_too_short_a_description_is_asked_about_once_not_twice(wired: Services) -> None:
    """ "洗衣机" got "能再具体说说吗？…" and, at once, "很抱歉给您带来不便。请简单描述一下…"."""
    from actions.intake import ActionAskComplaintDescription

    t = tracker("洗衣机", "complain", requested="complaint_description")
    assert await ask(ActionAskComplaintDescription(), t) == [render("ask_complaint_description")]
    t.events.append({"event": "bot", "text": render("description_too_short")})
    assert await ask(ActionAskComplaintDescription(), t) == []


@pytest.mark.parametrize(("text", "taken"), [("不通电了", True), ("不方便说", False), ("不投诉了", False)])
async def test_a_fault_heard_as_a_no_at_the_description_question_is_the_description(
    wired: Services, text: str, taken: bool
) -> None:
    """ "不脱水" / "不通电" are a "no" to the intent model, and a "no" there cancelled the intake."""
    t = tracker(text, "deny", requested="complaint_description", satisfaction=("dissatisfied", 0.9))
    slots, _ = await validate(t)
    assert slots.get("complaint_description") == (text if taken else None)
