"""Traditional characters to simplified, before anything reads a message.

The training data, the rules and the satisfaction corpus are written in simplified characters;
"謝謝你們" was read as a question about the bot, with displeasure, and "訂單號…沒發" as no
complaint at all. The conversion is OpenCC's table applied one character at a time: its phrase
table reads simplified text as traditional too ("拉坏了" became "拉坯了", pottery), and one
character for one keeps every offset into the message (entities) where it was."""

from __future__ import annotations

import re
from functools import lru_cache

import opencc


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=16384)
def _simplified(ch: str) -> str:
    new = _converter().convert(ch)
    # Only to a common character: "朥" would become a character most fonts cannot show.
    return new if len(new) == 1 and "\u4e00" <= new <= "\u9fff" else ch


def to_simplified(text: str) -> str:
    """The text with each traditional character replaced by its simplified form."""
    if not text or text.isascii():
        return text
    return "".join(
        _simplified(ch) if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" else ch for ch in text
    )


#: Chat spellings of everyday words, each as long as the word it stands for (so offsets still fit):
#: "不戳" (不错) was displeasure (0.93) and a "no" to the model, so a survey answered "不戳" closed as
#: declined. Not "肥肠" (非常, but also a dish) or "稀饭" (喜欢, and congee).
CHAT_SPELLINGS: dict[str, str] = {
    "不戳": "不错",
    "阔以": "可以",
    "灰常": "非常",
    "酱紫": "这样",
    "yyds": "永远的神",
}
_CHAT_SPELLING = re.compile("|".join(CHAT_SPELLINGS), re.IGNORECASE)


def standard_spelling(text: str) -> str:
    """The text with chat spellings written out: "不戳不戳" → "不错不错"."""
    return _CHAT_SPELLING.sub(lambda m: CHAT_SPELLINGS[m.group().lower()], text)


def as_read(text: str) -> str:
    """A message as every model reads it, in training and in use: simplified, chat spellings written out."""
    return standard_spelling(to_simplified(text))
