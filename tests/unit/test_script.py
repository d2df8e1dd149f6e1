"""Traditional characters to simplified, keeping every offset (bot.nlu.script and its component)."""

from __future__ import annotations

from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import SimplifiedCharacters
from bot.nlu.script import standard_spelling, to_simplified


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
    messages = [
        Message({TEXT: "謝謝你們"}),
        Message({TEXT: '/inform{"phone":"wechat"}'}),
        Message({}),
        Message({TEXT: "師傅不戳"}),
    ]
    SimplifiedCharacters({}).process(messages)
    assert [m.get(TEXT) for m in messages] == ["谢谢你们", '/inform{"phone":"wechat"}', None, "师傅不错"]


def test_chat_spellings_are_written_out_at_the_same_length() -> None:
    """ "不戳" (不错) was displeasure to the model and a "no": a survey answered "不戳" was declined."""
    for chat, plain in [("不戳不戳", "不错不错"), ("服务还阔以", "服务还可以"), ("师傅YYDS", "师傅永远的神")]:
        assert standard_spelling(chat) == plain and len(plain) == len(chat)
    assert standard_spelling("肥肠粉很好吃，稀饭也不错") == "肥肠粉很好吃，稀饭也不错"  # dishes, not slang
