"""Traditional characters to simplified, keeping every offset (bot.nlu.script and its component)."""

from __future__ import annotations

from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import SimplifiedCharacters
from bot.nlu.script import to_simplified


def test_traditional_becomes_simplified_at_the_same_length() -> None:
    for traditional, simplified in [
        ("謝謝你們", "谢谢你们"),
        ("訂單號JD2026120112345的貨到現在沒發", "订单号JD2026120112345的货到现在没发"),
        ("頭髮乾了 😊 13812345678", "头发干了 😊 13812345678"),
    ]:
        assert to_simplified(traditional) == simplified and len(simplified) == len(traditional)
    assert to_simplified("空调不制冷了") == "空调不制冷了"
    # OpenCC's phrase table takes simplified text for traditional: "拉坏了" became "拉坯了" (pottery).
    assert to_simplified("胶条被拉坏了，墙也打坏了") == "胶条被拉坏了，墙也打坏了"
    assert to_simplified("胸口朥") == "胸口朥"  # not to a character most fonts cannot show
    assert to_simplified("") == "" and to_simplified("ok") == "ok"


def test_the_component_rewrites_messages_but_not_payloads() -> None:
    messages = [Message({TEXT: "謝謝你們"}), Message({TEXT: '/inform{"phone":"wechat"}'}), Message({})]
    SimplifiedCharacters({}).process(messages)
    assert [m.get(TEXT) for m in messages] == ["谢谢你们", '/inform{"phone":"wechat"}', None]
