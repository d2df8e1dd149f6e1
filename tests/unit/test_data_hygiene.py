"""The held-out split must be held out: no test message may also be a training message."""

from __future__ import annotations

import unicodedata
from collections import defaultdict

from rasa.shared.nlu.training_data.loading import load_data

from bot.cases.model import CATEGORIES
from bot.config import PROJECT_ROOT
from bot.nlu.satisfaction import load_labelled_tsv


def norm(text: str) -> str:
    """Case, width, spaces and punctuation do not make a message new (emoji do)."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("\ufe0f", "")
    return "".join(c for c in folded if not c.isspace() and not unicodedata.category(c).startswith("P"))


def intent_texts(path: str) -> set[str]:
    return {norm(m.get("text")) for m in load_data(str(PROJECT_ROOT / path)).intent_examples}


def test_no_intent_test_example_is_in_the_training_data() -> None:
    training = intent_texts("data/nlu")
    test = load_data(str(PROJECT_ROOT / "tests/nlu/test_nlu.yml")).intent_examples
    leaked = [m.get("text") for m in test if norm(m.get("text")) in training]
    assert leaked == []


def test_no_intent_dev_message_is_in_the_training_data_or_the_test_split() -> None:
    """bench/data/intents_dev.tsv chooses which examples to write: it is neither trained on nor
    the evaluation, and its labels are the guidelines' names."""
    training, test = intent_texts("data/nlu"), intent_texts("tests/nlu/test_nlu.yml")
    rows = [
        line.split("\t")
        for line in (PROJECT_ROOT / "bench/data/intents_dev.tsv").read_text("utf-8").splitlines()
    ]
    assert len(rows) > 180 and all(len(r) == 3 for r in rows)
    assert {cat for _, cat, _ in rows} <= {*CATEGORIES, "-"}
    assert [t for _, _, t in rows if norm(t) in training or norm(t) in test] == []


def satisfaction_training_texts() -> set[str]:
    return {norm(t) for t in load_labelled_tsv(PROJECT_ROOT / "data/satisfaction")[0]}


def test_no_satisfaction_test_answer_is_in_the_training_data() -> None:
    training = satisfaction_training_texts()
    texts, _ = load_labelled_tsv(PROJECT_ROOT / "tests/nlu/satisfaction.tsv")
    assert [t for t in texts if norm(t) in training] == []


def test_no_satisfaction_dev_review_is_in_the_training_data() -> None:
    """bench/data/reviews_dev.tsv chooses between model settings: it must not be trained on either."""
    training = satisfaction_training_texts()
    texts, _ = load_labelled_tsv(PROJECT_ROOT / "bench/data/reviews_dev.tsv")
    assert len(texts) > 950
    assert [t for t in texts if norm(t) in training] == []


def test_no_satisfaction_training_text_carries_two_labels() -> None:
    labels: dict[str, set[str]] = defaultdict(set)
    for text, label in zip(*load_labelled_tsv(PROJECT_ROOT / "data/satisfaction"), strict=True):
        labels[norm(text)].add(label)
    assert {t: v for t, v in labels.items() if len(v) > 1} == {}


def test_no_training_message_carries_two_intents() -> None:
    intents = defaultdict(set)
    for m in load_data(str(PROJECT_ROOT / "data/nlu")).intent_examples:
        intents[norm(m.get("text"))].add(m.get("intent"))
    assert {t: i for t, i in intents.items() if len(i) > 1} == {}


def test_every_intent_and_category_has_at_least_30_training_examples() -> None:
    data = load_data(str(PROJECT_ROOT / "data/nlu")).intent_examples
    per_intent: dict[str, int] = defaultdict(int)
    per_category: dict[str, int] = defaultdict(int)
    for m in data:
        per_intent[m.get("intent")] += 1
        category = ((m.get("metadata") or {}).get("intent") or {}).get("complaint_category")
        if category:
            per_category[category] += 1
    contract = {
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        "bot_challenge",
        "out_of_scope",
        "complain",
        "ask_case_status",
        "request_human",
        "inform",
        "give_rating",
        "give_feedback",
        "suggest",
    }
    assert contract <= set(per_intent)
    typed = {i: n for i, n in per_intent.items() if not i.startswith("EXTERNAL_")}  # customers type these
    assert min(typed.values()) >= 30, typed
    assert len(per_category) == 6 and min(per_category.values()) >= 30
