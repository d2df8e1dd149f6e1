"""The console's reading of a Rasa tracker and of live events (plain functions, no server)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.api.console.transcript import live_turn, local, turn_to_dict, turns_from_tracker
from bot.api.console.views import duration

NAMES = {"wang": "小王"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_turns_keep_order_and_tell_agents_from_the_bot() -> None:
    tracker = {
        "events": [
            {"event": "action", "name": "action_listen", "timestamp": 1.0},
            {"event": "user", "text": "在吗", "timestamp": 1763605800.0},
            {"event": "user", "text": "", "timestamp": 1763605801.0},  # an empty message is no turn
            {
                "event": "bot",
                "text": "请选择",
                "timestamp": 1763605802.0,
                "data": {"buttons": [{"title": "查进度", "payload": "/ask_case_status"}, {"payload": "/x"}]},
            },
            {"event": "pause", "timestamp": 1763605803.0},
            {"event": "bot", "text": "我是小王", "timestamp": 1763605804.0, "metadata": {"agent": "wang"}},
            {"event": "bot", "text": "我是新人", "timestamp": 1763605805.0, "metadata": {"agent": "zhao"}},
            {"event": "bot", "timestamp": 1763605806.0, "data": {"image": "https://example.com/a.png"}},
            {"event": "bot", "timestamp": 1763605807.0},  # nothing to show
            "garbage",
        ]
    }
    turns = turns_from_tracker(tracker, NAMES)
    assert [(t.who, t.text, t.agent_name) for t in turns] == [
        ("customer", "在吗", None),
        ("bot", "请选择", None),
        ("system", "机器人已暂停，等待人工客服", None),
        ("agent", "我是小王", "小王"),
        ("agent", "我是新人", "zhao"),  # unknown agents keep their username
        ("bot", "[图片]", None),
    ]
    assert turns[1].buttons == ["查进度", "/x"]
    assert local(turns[0].at, SHANGHAI) == "11-20 10:30:00"


def test_a_message_rasa_replays_after_a_rewind_is_shown_once() -> None:
    """The two-stage fallback (and a survey stepping aside) rewinds and replays the customer's
    message; the agent saw "不是" twice."""
    tracker = {
        "events": [
            {"event": "user", "text": "这个咋整"},
            {"event": "bot", "text": "您是想投诉或反映问题吗？"},
            {"event": "user", "text": "不是"},
            {"event": "rewind"},
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": "不是"},
            {"event": "bot", "text": "抱歉，我没太明白您的意思"},
            {"event": "user", "text": "不是"},  # said again: shown again
        ]
    }
    assert [(t.who, t.text) for t in turns_from_tracker(tracker, NAMES)] == [
        ("customer", "这个咋整"),
        ("bot", "您是想投诉或反映问题吗？"),
        ("customer", "不是"),
        ("bot", "抱歉，我没太明白您的意思"),
        ("customer", "不是"),
    ]


def test_payloads_read_as_what_the_customer_did() -> None:
    """The agent read "/greet", "/complain" and "/give_rating{"rating": 2}" as the customer's words."""
    offer = {"buttons": [{"title": "2分 不满意", "payload": '/give_rating{"rating": 2}'}]}
    tracker = {
        "events": [
            {
                "event": "user",
                "text": "/greet",
                "metadata": {"wechat": {"kind": "event", "event": "subscribe"}},
            },
            {
                "event": "user",
                "text": "/complain",
                "metadata": {"wechat": {"kind": "event", "event": "click"}},
            },
            {"event": "bot", "text": "请打分", "data": offer},
            {"event": "bot", "text": "（没有按钮的一句）"},
            {"event": "user", "text": '/give_rating{"rating": 2}', "metadata": {"wechat": {"kind": "text"}}},
            {"event": "user", "text": "/affirm"},  # no button said so: left as it is
            {"event": "user", "text": "师傅迟到了"},
        ]
    }
    customer = [t.text for t in turns_from_tracker(tracker, NAMES) if t.who == "customer"]
    assert customer == ["[关注公众号]", "[菜单] 投诉", "[点选] 2分 不满意", "/affirm", "师傅迟到了"]


def test_live_events_become_the_same_turns() -> None:
    agent = live_turn(
        {"type": "agent", "agent": "wang", "text": "好的", "at": "2025-11-20T02:30:00+00:00"}, NAMES
    )
    assert agent is not None
    assert turn_to_dict(agent, SHANGHAI) == {
        "who": "agent",
        "text": "好的",
        "time": "11-20 10:30:00",
        "agent": "wang",
        "agent_name": "小王",
        "buttons": [],
    }
    status = live_turn({"type": "status", "status": "bot"}, NAMES)
    assert status is not None and (status.who, status.text) == ("system", "对话已交还机器人")
    assert live_turn({"type": "customer", "text": ""}, NAMES) is None
    assert live_turn({"type": "typing"}, NAMES) is None


def test_durations_read_naturally() -> None:
    assert duration(timedelta(seconds=20)) == "不到 1 分钟"
    assert duration(timedelta(minutes=12)) == "12 分钟"
    assert duration(timedelta(hours=1, minutes=5)) == "1 小时 5 分钟"
    assert duration(timedelta(hours=2)) == "2 小时"
    assert duration(timedelta(days=2, hours=3)) == "2 天 3 小时"
    assert duration(timedelta(seconds=-5)) == "不到 1 分钟"


def test_a_template_message_reads_as_what_it_said() -> None:
    """Outside WeChat's window surveys and resolution notices go as the template message; the
    transcript said only "[自定义消息]"."""
    template = {
        "template": {
            "data": {
                "first": {"value": "您好，您的投诉已处理完毕✅"},
                "keyword1": {"value": "投诉 C20261120-0001（物流配送）"},
                "remark": {"value": ""},
            }
        }
    }
    tracker = {
        "events": [
            {"event": "bot", "text": None, "timestamp": 1763605800.0, "data": {"custom": template}},
            {"event": "bot", "timestamp": 1763605801.0, "data": {"custom": {"template": {"data": "x"}}}},
            {"event": "bot", "timestamp": 1763605802.0, "data": {"custom": {"msgtype": "news"}}},
        ]
    }
    assert [t.text for t in turns_from_tracker(tracker, NAMES)] == [
        "[模板消息] 您好，您的投诉已处理完毕✅ 投诉 C20261120-0001（物流配送）",
        "[模板消息]",
        "[自定义消息]",
    ]
