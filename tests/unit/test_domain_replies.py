"""Fixed replies in domain.yml that a customer would notice."""

import yaml

from bot.config import PROJECT_ROOT

RESPONSES = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def test_thanks_is_not_met_with_another_question() -> None:
    """ "没了，谢谢" in answer to "还有什么可以帮您的吗？" is heard as thanks, and got "不客气，能帮到您就好。
    还有其他需要吗？": the same question again, after the customer had said no."""
    for variant in RESPONSES["utter_thank"]:
        text = variant["text"]
        assert not text.rstrip().endswith(("？", "?")) and "还有其他需要吗" not in text


def test_what_the_bot_cannot_answer_offers_a_person_with_a_tap() -> None:
    """ "怎么退货" / "发票怎么开" got "这个我帮不上忙…或者转人工客服" with nothing to tap; a person answers
    those, and the tap keeps the question as the summary of the case kept for them."""
    for variant in RESPONSES["utter_out_of_scope"]:
        assert {"title": "转人工客服", "payload": "/request_human"} in variant.get("buttons", [])
