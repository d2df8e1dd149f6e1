"""English beyond the training's few phrases: out of scope to the NLU, answered in both languages."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import ForeignLanguageGuard
from bot.nlu.patterns import english_words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("hello, my order hasn't arrived yet", 6),
        ("I was charged twice", 4),
        ("ok", 1),
        ("order还没到", 0),  # Chinese with English in it is what the model was trained on
        ("[微笑]", 0),
        ("13812345678", 0),
        ("", 0),
    ],
)
def test_english_words_are_counted_only_without_chinese(text: str, words: int) -> None:
    assert english_words(text) == words


def parsed(
    text: str, intent: str, confidence: float, entities: list[dict[str, Any]] | None = None
) -> Message:
    ranking = [{"name": intent, "confidence": confidence}, {"name": "out_of_scope", "confidence": 0.04}]
    return Message(
        {TEXT: text, INTENT: dict(ranking[0]), INTENT_RANKING_KEY: ranking, ENTITIES: entities or []}
    )


def guarded(message: Message) -> str:
    ForeignLanguageGuard(ForeignLanguageGuard.get_default_config()).process([message])
    return message.get(INTENT)["name"]


def test_english_the_model_is_unsure_of_is_out_of_scope() -> None:
    # The model read it as a greeting (0.68), and the complaint in it got the menu.
    message = parsed("hello, my order hasn't arrived yet", "greet", 0.68)
    assert guarded(message) == "out_of_scope"
    assert message.get(INTENT) == {"name": "out_of_scope", "confidence": 1.0}
    assert [r["name"] for r in message.get(INTENT_RANKING_KEY)] == ["out_of_scope", "greet"]


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        (parsed("thank you very much", "thank", 0.95), "thank"),  # taught, and sure of it
        (parsed("I want to speak to a person", "request_human", 0.9), "request_human"),
        (parsed("hi there", "greet", 0.5), "greet"),  # too few words to judge the language by
        (parsed("order还没到，三天了", "complain", 0.5), "complain"),
        (parsed("/greet", "greet", 0.5), "greet"),
        # a number the message gives (the phone at the phone question) is for the form to take
        (parsed("you can call me on 13812345678", "inform", 0.5, [{"entity": "phone"}]), "inform"),
    ],
)
def test_chinese_short_english_confident_or_numbers_are_left_alone(message: Message, intent: str) -> None:
    assert guarded(message) == intent
