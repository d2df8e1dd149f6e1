"""The gateway's pure rules: splitting long texts, mapping WeChat errcodes, retry backoff. No I/O."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import pytest

from bot.wechat.errors import (
    ConfigurationError,
    OutsideWindowError,
    PermanentError,
    TokenError,
    TransientError,
    WeChatError,
    classify,
)
from bot.wechat.gateway import TEXT_LIMIT_BYTES, split_text
from bot.wechat.outbox import BACKOFF, Fate, OutboxRecord, OutboxStatus, fate_of, next_attempt, shown_text

NOW = datetime(2026, 11, 20, 2, 30, tzinfo=timezone.utc)
ENDS = "\n。！？!?；;"


def squeeze(text: str) -> str:
    return re.sub(r"\s", "", text)


def assert_well_split(text: str, pieces: list[str]) -> None:
    """Every piece fits, none is blank, and together they are the text (whitespace aside)."""
    assert pieces, "a non-empty text gives at least one piece"
    assert all(len(p.encode("utf-8")) <= TEXT_LIMIT_BYTES for p in pieces), [len(p.encode()) for p in pieces]
    assert squeeze("".join(pieces)) == squeeze(text)


def paragraphs(count: int) -> str:
    """Customer-service prose: sentences of varying length, lines, blank lines between paragraphs."""
    out = []
    for n in range(count):
        sentences = [
            f"第{n + 1}段第{i + 1}句：您反映的空调维修问题我们已经记录并转交售后{'，' * (i % 3)}。"
            for i in range(9)
        ]
        out.append("".join(sentences) + "\n" + "如有疑问请随时联系我们！\n")
    return "\n".join(out)


# ------------------------------------------------------------------ split_text


def test_short_text_is_one_piece_and_blank_text_none() -> None:
    assert split_text("  您好，您的投诉已受理。\n") == ["您好，您的投诉已受理。"]
    assert split_text(" \n\t ") == []
    assert split_text("") == []


def test_a_text_of_exactly_the_limit_is_not_split() -> None:
    text = "好" * 666 + "!!"  # 2000 bytes
    assert split_text(text) == [text]
    assert len(split_text(text + "!")) == 2


def test_long_prose_is_cut_at_line_or_sentence_ends_and_nothing_is_lost() -> None:
    text = paragraphs(12)
    assert len(text.encode()) > 4 * TEXT_LIMIT_BYTES
    pieces = split_text(text)
    assert_well_split(text, pieces)
    assert len(pieces) >= 3
    for piece in pieces[:-1]:
        assert piece[-1] in ENDS, f"cut mid-sentence: …{piece[-20:]!r}"
    # Pieces are used greedily: none could have taken the next piece's first sentence as well.
    for piece, following in pairwise(pieces):
        first_sentence = re.match(rf"[^{ENDS}]*[{ENDS}]?", following)
        assert first_sentence is not None
        assert len((piece + first_sentence.group()).encode()) > TEXT_LIMIT_BYTES - 2


@pytest.mark.parametrize("char", ["好", "a", "😀"], ids=["cjk-3-bytes", "ascii", "emoji-4-bytes"])
def test_a_single_10000_character_line_is_split_too(char: str) -> None:
    text = char * 10_000
    pieces = split_text(text)
    assert_well_split(text, pieces)
    assert "".join(pieces) == text  # nothing to strip here: exactly the text
    assert len(pieces) >= -(-len(text.encode()) // TEXT_LIMIT_BYTES)


def test_a_huge_line_after_normal_sentences_keeps_order() -> None:
    text = "先说明情况。" * 50 + "\n" + "长" * 4000 + "\n最后一句。"
    pieces = split_text(text)
    assert_well_split(text, pieces)
    assert pieces[0].startswith("先说明情况。") and pieces[-1].endswith("最后一句。")


def test_no_piece_exceeds_the_limit_with_a_smaller_limit() -> None:
    text = paragraphs(3)
    pieces = split_text(text, limit=300)
    assert all(len(p.encode()) <= 300 for p in pieces)
    assert squeeze("".join(pieces)) == squeeze(text)


def test_no_piece_is_blank() -> None:
    text = "a" * 1999 + "\n \n" + "b" * 2500
    pieces = split_text(text)
    assert all(p.strip() for p in pieces), pieces.index("") if "" in pieces else pieces


# ------------------------------------------------------------------ classify


@pytest.mark.parametrize("code", [40001, 40014, 42001])
def test_rejected_tokens_are_token_errors_and_transient(code: int) -> None:
    error = classify(code, "invalid credential")
    assert type(error) is TokenError
    assert isinstance(error, TransientError) and not isinstance(error, PermanentError)
    assert error.code == code and str(code) in str(error)


@pytest.mark.parametrize("code", [45015, 45047])
def test_closed_window_codes(code: int) -> None:
    error = classify(code, "response out of time limit")
    assert type(error) is OutsideWindowError
    assert not isinstance(error, (TransientError, PermanentError))
    assert error.code == code


@pytest.mark.parametrize("code", [-1, 45009])
def test_busy_and_rate_limited_are_transient(code: int) -> None:
    error = classify(code, "system error")
    assert type(error) is TransientError and error.code == code


def test_wrong_appid_is_a_configuration_error_and_permanent() -> None:
    error = classify(40013, "invalid appid")
    assert type(error) is ConfigurationError
    assert isinstance(error, PermanentError) and not isinstance(error, TransientError)


@pytest.mark.parametrize("code", [40003, 43004, 47001, 99999])
def test_bad_recipient_or_content_is_permanent(code: int) -> None:
    error = classify(code, "invalid openid")
    assert type(error) is PermanentError and error.code == code
    assert isinstance(error, WeChatError) and not isinstance(error, TransientError)


# ------------------------------------------------------------------ next_attempt


def test_backoff_grows_then_gives_up_after_len_backoff() -> None:
    waits = [next_attempt(n, NOW) for n in range(1, len(BACKOFF) + 1)]
    assert all(w is not None for w in waits)
    delays = [w - NOW for w in waits if w is not None]
    assert delays == list(BACKOFF)
    assert all(a < b for a, b in pairwise(delays)), delays
    assert delays[0] > timedelta(0)
    assert next_attempt(len(BACKOFF) + 1, NOW) is None
    assert next_attempt(len(BACKOFF) + 5, NOW) is None


def _undelivered(status: str, reason: str | None, age: timedelta = timedelta(minutes=1)) -> OutboxRecord:
    now = datetime(2026, 12, 5, 4, 0, tzinfo=timezone.utc)
    body = {"msgtype": "text", "text": {"content": "师傅明天上午到"}}
    return OutboxRecord(
        "wechat", "wx-1", "text", body, "reply", OutboxStatus(status), now - age, now, reason=reason
    )


@pytest.mark.parametrize(
    ("status", "reason", "age", "fate"),
    [
        ("sent", None, timedelta(minutes=1), None),
        ("pending", None, timedelta(seconds=1), None),  # on its way
        ("skipped", "allowance_used", timedelta(minutes=1), Fate.HELD),
        ("skipped", "wechat_45047", timedelta(hours=47), Fate.HELD),
        ("skipped", "allowance_used", timedelta(hours=49), Fate.OUT_OF_WINDOW),  # too old to follow
        ("skipped", "outside_window", timedelta(minutes=1), Fate.OUT_OF_WINDOW),
        ("skipped", "wechat_45015", timedelta(minutes=1), Fate.OUT_OF_WINDOW),
        ("skipped", "outside_window:template_sent", timedelta(minutes=1), Fate.REPLACED),
        ("skipped", "unsubscribed", timedelta(minutes=1), Fate.NOT_SENT),
        ("retrying", "transient", timedelta(minutes=1), Fate.RETRYING),
        ("sending", "transient", timedelta(minutes=1), Fate.RETRYING),
        ("dead", "permanent", timedelta(minutes=1), Fate.FAILED),
    ],
)
def test_what_the_agent_is_told_about_a_message(
    status: str, reason: str | None, age: timedelta, fate: Fate | None
) -> None:
    now = datetime(2026, 12, 5, 4, 0, tzinfo=timezone.utc)
    assert fate_of(_undelivered(status, reason, age), now) is fate


def test_a_menu_is_shown_with_its_options() -> None:
    menu = {
        "msgtype": "msgmenu",
        "msgmenu": {
            "head_content": "打个分吧",
            "list": [{"id": "1", "content": "5分"}, {"id": "2", "content": "1分"}],
        },
    }
    record = OutboxRecord(
        "wechat", "wx-1", "msgmenu", menu, "survey", OutboxStatus.SKIPPED, *[datetime.now(timezone.utc)] * 2
    )
    assert shown_text(record) == "打个分吧［5分 / 1分］"
