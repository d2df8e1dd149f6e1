"""The trained model and the Rasa project: data validation, test conversations, NLU quality."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import PROJECT_ROOT
from bot.surveys.rules import FACES_CONFIDENCE
from tests.conftest import MODEL_PATH

pytestmark = pytest.mark.model
RASA = str(Path(sys.executable).parent / "rasa")


def run_rasa(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RASA, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            "RASA_TELEMETRY_ENABLED": "false",
            "PATH": "/usr/bin:/bin",
            "HOME": str(Path.home()),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        },
    )


def test_training_data_validates_without_warnings() -> None:
    result = run_rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_the_test_conversations_are_predicted_exactly(tmp_path: Path) -> None:
    result = run_rasa(
        "test",
        "core",
        "--stories",
        "tests/conversations",
        "--model",
        str(MODEL_PATH),
        "--fail-on-prediction-errors",
        "--out",
        str(tmp_path),
        "--no-plot",
    )
    failed = tmp_path / "failed_test_stories.yml"
    assert result.returncode == 0, failed.read_text() if failed.exists() else result.stderr[-3000:]
    stories = sum(
        len(yaml.safe_load(p.read_text())["stories"])
        for p in (PROJECT_ROOT / "tests/conversations").glob("*.yml")
    )
    assert stories >= 15


@pytest.fixture(scope="module")
async def agent() -> AsyncIterator[Any]:
    from rasa.core.agent import Agent

    yield Agent.load(str(MODEL_PATH))


def conversation_turns() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(text, intent, [(entity, text)]) for every user turn of the test conversations."""
    from rasa.shared.nlu.training_data.entities_parser import parse_training_example
    from rasa.shared.utils.io import read_yaml

    turns = []
    for path in sorted((PROJECT_ROOT / "tests/conversations").glob("*.yml")):
        for story in read_yaml(path.read_text(encoding="utf-8"))["stories"]:
            for step in story["steps"]:
                if "user" in step:
                    turns.append((step["user"].strip(), step["intent"]))
    return [
        (
            m.get("text"),
            intent,
            [(e["entity"], m.get("text")[e["start"] : e["end"]]) for e in m.get("entities", [])],
        )
        for m, intent in ((parse_training_example(t, i), i) for t, i in turns)
    ]


@pytest.mark.parametrize(("text", "intent", "entities"), conversation_turns())
async def test_the_model_understands_the_test_conversations(
    agent: Any, text: str, intent: str, entities: list[tuple[str, str]]
) -> None:
    parse = await agent.parse_message(text)
    assert parse["intent"]["name"] == intent
    found = {(e["entity"], text[e["start"] : e["end"]]) for e in parse["entities"]}
    assert set(entities) <= found


@pytest.mark.parametrize(
    "text",
    [
        "",
        "😂😂😂",
        "？？？？",
        "a" * 5000,
        "投诉" * 2500,
        "'; DROP TABLE cases; --",
        "<script>alert(1)</script>",
        "SELECT * FROM customers WHERE 1=1",
        "\u0000\u200b\ufeff",
        "１３８１２３４５６７８",
    ],
)
async def test_odd_messages_parse_to_something_sensible(agent: Any, text: str) -> None:
    parse = await agent.parse_message(text)
    assert parse["satisfaction"]["label"] in ("satisfied", "neutral", "dissatisfied")
    assert 0.0 <= parse["satisfaction"]["confidence"] <= 1.0
    assert parse["intent"]["name"] is None or isinstance(parse["intent"]["name"], str)


def _rounded(value: Any) -> Any:
    """A parse with its floats rounded: a batch pads messages to the longest, which moves
    TensorFlow's sums in the last digits and nothing else."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


async def test_messages_parsed_together_mean_what_each_means_alone(agent: Any) -> None:
    """The WeChat channel parses waiting messages in batches (channels/parse_ahead.py); each
    message's intent, entities, category and satisfaction must be what parsing it alone gives."""
    from rasa.core.channels.channel import UserMessage

    from channels.parse_ahead import BATCH, parse_together

    odd = ["😂😂😂", "a" * 500, "/greet", '/give_rating{"rating": 2}']
    texts = [t for t, _, _ in conversation_turns()] + odd
    messages = [UserMessage(t, sender_id=f"wx-{i % 3}") for i, t in enumerate(texts)]
    for start in range(0, len(messages), BATCH):
        assert parse_together(agent.processor, messages[start : start + BATCH])
    for message in messages:
        alone = await agent.processor.parse_message(UserMessage(message.text))
        assert _rounded(message.parse_data) == _rounded(alone), message.text
    assert len({m.parse_data["intent"]["name"] for m in messages}) >= 8  # not one answer for all


async def test_every_parse_carries_satisfaction_and_the_contract_entities(agent: Any) -> None:
    parse = await agent.parse_message("燃气灶装好就漏气，订单JD2026112012345，电话13812345678，太气人了")
    assert parse["intent"]["name"] == "complain"
    values = {e["entity"]: e["value"] for e in parse["entities"]}
    assert values["order_id"] == "JD2026112012345"
    assert values["phone"] == "13812345678"
    assert values["complaint_category"] in ("installation_repair", "product_quality")
    assert parse["satisfaction"]["label"] == "dissatisfied"
    rating = await agent.parse_message("打四分吧")
    assert rating["intent"]["name"] == "give_rating"
    assert [e["value"] for e in rating["entities"] if e["entity"] == "rating"] == [4]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("满意，拜拜", "satisfied"),  # was displeasure: "挺满意的，拜拜" opened a case and apologised
        ("挺好的，再见", "satisfied"),  # was neutral: scored 3 (一般)
        ("师傅人很好，谢谢，再见啦", "satisfied"),
        ("等了一下午，很不满意，拜拜", "dissatisfied"),
        ("嗯，再见", "neutral"),
        ("修好了，谢谢，拜拜", "satisfied"),  # was neutral: two closings outweighed "修好了", scored 3
    ],
)
async def test_a_goodbye_does_not_colour_the_answer(agent: Any, text: str, label: str) -> None:
    assert (await agent.parse_message(text))["satisfaction"]["label"] == label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("[弱][弱][弱][弱]", "dissatisfied"),  # "/:weak" four times; was neutral, 0.99
        ("[差劲][弱]", "dissatisfied"),
        ("[抓狂][怄火]", "dissatisfied"),
        ("[吐][吐]", "dissatisfied"),
        ("[鼓掌][强]", "satisfied"),
        ("[强][强][强][强]", "satisfied"),
        ("[胜利][胜利][胜利]", "satisfied"),
    ],
)
async def test_wechat_faces_carry_their_tone(agent: Any, text: str, label: str) -> None:
    """Sure enough to score a survey answer of faces alone (FACES_CONFIDENCE)."""
    satisfaction = (await agent.parse_message(text))["satisfaction"]
    assert satisfaction["label"] == label and satisfaction["confidence"] >= FACES_CONFIDENCE


async def test_faces_that_thank_or_agree_mean_what_the_words_mean(agent: Any) -> None:
    """ "[玫瑰][抱拳]" was a greeting; "[强]" alone agrees, as "👍" does."""
    thanks, yes = await agent.parse_message("[玫瑰][抱拳]"), await agent.parse_message("[强]")
    assert (thanks["intent"]["name"], yes["intent"]["name"]) == ("thank", "affirm")


@pytest.mark.parametrize(
    "text",
    [
        "油烟机噪音特别大",  # complaint 0.15 and inform 0.23: "您是想投诉或反映问题吗？"
        "外卖小哥把汤洒了",  # 0.25 and 0.29
        "订单号JD20261201001的货到现在没发",  # 0.50 and 0.45: too close to tell
    ],
)
async def test_a_problem_described_unprompted_is_not_questioned(agent: Any, text: str) -> None:
    """complain and inform (a problem described in answer to the intake) both start the intake:
    a split between the two is no reason for the fallback's "您是想…吗？"."""
    parse = await agent.parse_message(text)
    assert parse["intent"]["name"] in ("complain", "inform")
    assert parse["intent"]["confidence"] >= 0.3
    assert parse["intent_ranking"][1]["name"] not in ("complain", "inform")


@pytest.mark.parametrize("text", ["油烟机装歪了", "空调装歪了"])
async def test_a_problem_read_as_an_answer_still_gets_its_category(agent: Any, text: str) -> None:
    """Inform to the intent model (0.93, 0.76): the intake started, then asked for the category the
    words already say."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.intake import ValidateComplaintForm

    parse = await agent.parse_message(text)
    events = [{"event": "user", "text": text, "parse_data": parse}]
    tracker = Tracker("wx-1", {}, parse, events, False, None, {"name": "complaint_form"}, "action_listen")
    form = ValidateComplaintForm()
    slots = await form.extract_complaint_category(CollectingDispatcher(), tracker, {})
    assert slots == {"complaint_category": "installation_repair"}


async def test_english_the_model_was_not_taught_is_out_of_scope(agent: Any) -> None:
    """ "hello, my order hasn't arrived yet" was a greeting (0.68): the menu, and the complaint lost."""
    for text in ("hello, my order hasn't arrived yet", "what's the status of my complaint"):
        assert (await agent.parse_message(text))["intent"]["name"] == "out_of_scope", text
    for text, intent in (("thank you very much", "thank"), ("I want to speak to a person", "request_human")):
        assert (await agent.parse_message(text))["intent"]["name"] == intent, text


async def _survey_score(agent: Any, text: str) -> tuple[float | None, dict[str, Any]]:
    """The score the survey form takes from an answer to "这次服务怎么样", parsed by the real model."""
    slots, parse = await _survey_slots(agent, text)
    return slots.get("survey_score"), parse


async def _survey_slots(agent: Any, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from survey_scoring import answer_score_question

    return await answer_score_question(agent, text)


@pytest.mark.parametrize(
    "text",
    [
        "问题依旧",  # affirm, satisfied 0.39: scored 4 and thanked
        "问题还在",  # nlu_fallback, neutral 0.86: scored 3 (一般)
        "油烟机吸力很小",  # inform, satisfied 0.88: scored 5, "感谢您的好评"
        "冰箱声音特别大",  # nlu_fallback, satisfied 0.66: scored 4
        "油烟机噪音特别大",  # satisfied 0.74
        "毛病还在",
        "还没修好",
        "没装好",
    ],
)
async def test_a_service_that_did_not_take_scores_low_in_a_survey(agent: Any, text: str) -> None:
    """Asked "这次服务怎么样" after a repair, a few words saying the fault is still there are the
    worst answer there is: a score of 1 or 2, a remediation case and a person offered."""
    score, parse = await _survey_score(agent, text)
    assert score in (1.0, 2.0), (parse["intent"], parse["satisfaction"])


@pytest.mark.parametrize(
    "text",
    [
        "五星是不可能给的",  # each was thanked as a 5: the score read off "五星" / "满分"
        "不值得五星",
        "本来打算打满分，结果走的时候把墙蹭花了",
        "师傅干完活一直让我给他好评",
        "师傅非要我当场点满分",
    ],
)
async def test_a_score_refused_or_pressed_for_scores_low_in_a_survey(agent: Any, text: str) -> None:
    score, parse = await _survey_score(agent, text)
    assert score in (1.0, 2.0), (parse["intent"], parse["satisfaction"], parse["entities"])


@pytest.mark.parametrize(
    "text",
    [
        "上门了，修好了",  # complain 0.83: scored 2, with an apology and a remediation case
        "修好了",  # complain 0.36: the same
        "已经修好了",  # deny 0.40: the survey was declined
        "问题解决了",  # deny 0.32: the same
        "网速恢复正常了",  # complain 0.35: 2
        "下午师傅上门修好了",
        "问题都解决了",
        "宽带已经能用了",
        "会推荐给朋友的",
        "以后还会找你们的",
    ],
)
async def test_the_job_done_scores_well_in_a_survey(agent: Any, text: str) -> None:
    """ "修好了" is the commonest answer after a repair; "会推荐给朋友的" was out of scope, and got
    "这个我帮不上忙"."""
    score, parse = await _survey_score(agent, text)
    assert score in (4.0, 5.0), (parse["intent"], parse["satisfaction"])


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("没有按时来", "bad"),  # deny 0.67: the survey closed as declined, no case
        ("不行", "bad"),  # deny 0.95: the same
        ("没改善", "bad"),  # deny 0.62: the same
        ("师傅没来", "bad"),  # satisfied 0.49: a 4
        ("不满意，没按约定时间来", "bad"),  # satisfied 0.60: a 4
        ("没效果", "bad"),  # neutral: a 3
        ("不怎么样", "bad"),  # out of scope: "这个我帮不上忙"
        ("无所谓", 3.0),  # dissatisfied 0.64: a 2, with an apology and a remediation case
        ("随便吧", 3.0),  # out of scope
        ("哦", None),  # deny 0.34: declined
        ("收到", None),  # complain 0.38: a 2 and a case
        ("知道了", None),  # the same
        ("不好说", None),  # the same
        ("谢谢关心", None),  # a 5
        ("感谢回访", None),  # a 5
        ("还没来得及看", None),  # a 2 and a case
        ("没顾上看", None),
        ("别烦我", "declined"),  # a 2 and a case
        ("天天发，烦不烦", "declined"),  # a 1 and a case
        ("能不能别问了", "declined"),
        ("嗯嗯满意", "good"),  # neutral to the model, for the "嗯嗯": a 3
        ("嗯嗯，挺好", "good"),  # the same
        ("666", "good"),  # read as a number: a 3
        ("满意个鬼", "bad"),  # satisfied 0.94: a 5
        ("满意，就是有点慢", 4.0),  # dissatisfied 0.49: a 2, an apology and a remediation case
        ("满意，没意见", "good"),  # neutral 0.84: a 3
        ("服务很好，没什么意见", "good"),  # neutral 0.85: a 3
        ("不戳", "good"),  # deny 0.97, dissatisfied 0.93: declined
        ("not good", "bad"),  # deny, satisfied 0.95: declined
        ("不及格", "bad"),  # deny: declined
        ("无语", "bad"),  # out of scope: "这个我帮不上忙"
        ("等用几天再说", None),  # goodbye 0.47: declined
        ("你们是不是骗子", None),  # a 1, an apology and a remediation case
        ("东西送到了，包装有点破", "bad"),  # satisfied 0.71: a 4 and a thank-you
        ("外箱有点瘪，不过里面的东西完好无损", 4.0),
        ("为什么要打分", None),  # complain 0.37, displeasure 0.63: a 2, an apology and a case
        ("没以前那么仔细", "bad"),  # neutral: a 3
        ("比上次贵得多", "bad"),  # satisfied: a 4
        ("师傅修得挺好，但是走的时候没把垃圾带走", "bad"),  # satisfied: a 4, and thanked
    ],
)
async def test_what_a_survey_answer_says_is_what_is_recorded(agent: Any, text: str, outcome: Any) -> None:
    """Answers to "这次服务怎么样" as customers put them, each of which the survey recorded wrongly:
    a bad verdict as a refusal or as praise, a shrug as a complaint, thanks or "收到" as a score,
    annoyance at being asked as a complaint about the service, praise after "嗯嗯" as 一般."""
    slots, parse = await _survey_slots(agent, text)
    why = (parse["intent"], parse["satisfaction"])
    assert "survey_score" in slots, why  # an answer, not a digression
    score = slots["survey_score"]
    if outcome == "bad":
        assert score in (1.0, 2.0), why
    elif outcome == "good":
        assert score in (4.0, 5.0), why
    elif outcome == "declined":
        assert score == 0.0, why
    else:
        assert score == outcome, why


async def test_a_score_withheld_never_scores_above_middling(agent: Any) -> None:
    score, parse = await _survey_score(agent, "满分？别想了")  # satisfied 0.53 to the model: a 4
    assert score is not None and score <= 3.0, (parse["intent"], parse["satisfaction"])


@pytest.mark.parametrize(("text", "expected"), [("我要给五星", 5.0), ("师傅没催好评，自己给的满分", 5.0)])
async def test_a_top_score_given_freely_is_still_the_score(agent: Any, text: str, expected: float) -> None:
    score, parse = await _survey_score(agent, text)
    assert score == expected, (parse["intent"], parse["satisfaction"], parse["entities"])


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("謝謝你們", "谢谢你们"),  # was a question about the bot, with displeasure
        ("冷氣不冷了，師傅說要換零件", "冷气不冷了，师傅说要换零件"),
        ("訂單號JD2026120112345的貨到現在沒發", "订单号JD2026120112345的货到现在没发"),  # was information
        ("我要投訴你們的客服態度，太差了", "我要投诉你们的客服态度，太差了"),
    ],
)
async def test_traditional_characters_are_understood_as_their_simplified_form(
    agent: Any, traditional: str, simplified: str
) -> None:
    seen, meant = await agent.parse_message(traditional), await agent.parse_message(simplified)
    assert seen["intent"]["name"] == meant["intent"]["name"]
    assert seen["satisfaction"]["label"] == meant["satisfaction"]["label"]
    assert [(e["entity"], e["value"]) for e in seen["entities"]] == [
        (e["entity"], e["value"]) for e in meant["entities"]
    ]
    for e in seen["entities"]:  # spans still point into what the customer typed
        if e["entity"] == "order_id":
            assert traditional[e["start"] : e["end"]] == e["value"]
    if traditional == "謝謝你們":  # thanks, not displeasure (neutral since 2026-12-06, like "谢谢，再见")
        assert seen["intent"]["name"] == "thank" and seen["satisfaction"]["label"] != "dissatisfied"


async def test_nlu_quality_on_held_out_data() -> None:
    """The figures the README quotes, measured the way bench/nlu_figures.py measures them."""
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    import argparse

    from nlu_figures import measure

    args = argparse.Namespace(
        model=MODEL_PATH,
        test=PROJECT_ROOT / "tests/nlu/test_nlu.yml",
        satisfaction=PROJECT_ROOT / "tests/nlu/satisfaction.tsv",
        dev=PROJECT_ROOT / "bench/data/intents_dev.tsv",
        waimai=PROJECT_ROOT.parent / "shared/eval/waimai_10k.csv",
        per_label=1000,
        seed=20261121,
    )
    figures = await measure(args)
    assert figures["intent_macro_f1"] >= 0.92, figures
    assert figures["category_accuracy"] >= 0.85, figures
    assert figures["satisfaction_3way_accuracy"] >= 0.85, figures
    # The development set's short complaints (README, "Short complaints"): 0.962 / 0.927 when added.
    assert figures["dev_intent_accuracy"] >= 0.94 and figures["dev_category_accuracy"] >= 0.90, figures
    if "waimai_agreement" in figures:
        # The target is 0.85 (0.90 for surveys); the model reaches about 0.84 (README, "Figures"). This
        # keeps it from sliding back while the gap is worked on; SnowNLP gets 0.79 on the same sample.
        assert figures["waimai_agreement"] >= 0.83, figures
        assert figures["waimai_agreement"] > figures["waimai_snownlp_baseline"], figures


async def test_survey_scores_of_held_out_answers() -> None:
    """What free-text survey answers end up scored, end to end (README, "Scoring, end to end"): 0.844
    when measured, 0.834 before remarks with no problem in them stopped being a 2, and 0.796 before long
    praise the intent model calls a complaint did."""
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from survey_scoring import measure

    figures = await measure(MODEL_PATH, [PROJECT_ROOT / "tests/nlu/satisfaction.tsv"])
    assert figures["satisfaction.tsv"]["agreement"] >= 0.83, figures


@pytest.mark.parametrize(
    "text",
    [
        "我家空调不制冷了，师傅上周刚修过",  # praise to the model (0.91): a 5
        "洗衣机漏水，师傅前天刚来修过",  # praise (0.83)
        "宽带又断网了，昨天师傅刚来过",  # praise (0.90)
        "马桶堵了，师傅昨天刚通过",  # praise (0.95)
    ],
)
async def test_the_fault_back_after_a_visit_is_a_bad_answer(agent: Any, text: str) -> None:
    score, parse = await _survey_score(agent, text)
    assert score in (1.0, 2.0), (parse["intent"], parse["satisfaction"])
