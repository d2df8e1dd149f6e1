"""How the survey scores free-text answers: the score the customer ends up with, not the NLU's label.

`bench/nlu_figures.py` measures the satisfaction label alone. A survey answer goes further: the score
question's own rules (`ValidateSurveyForm.extract_survey_score`) read the label, the intent, the words
and the score given, and may ask again or take the answer as a refusal. This runs each labelled answer
through them as the first reply to the score question and counts the outcome as satisfied (4–5),
neutral (3) or dissatisfied (1–2); "asked again" and "declined" count as disagreement.

Files (one ``label<TAB>text`` per line):
  * ``tests/nlu/satisfaction.tsv``: held-out survey answers (never trained or tuned on);
  * ``bench/data/reviews_dev.tsv``: the development set that chooses the survey's settings;
  * ``data/satisfaction/services.tsv``: the satisfaction model's own training answers, which the
    intent model never saw (the score rules' mistakes show there without the model's).

Usage: python bench/survey_scoring.py [--model models/x.tar.gz] [--json out.json] [FILE ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from nlu_figures import ROOT, latest_model, quiet_structlog

DEFAULT_FILES = (
    ROOT / "tests/nlu/satisfaction.tsv",
    ROOT / "bench/data/reviews_dev.tsv",
    ROOT / "data/satisfaction/services.tsv",
)


def outcome(score: Any) -> str:
    if score is None:
        return "asked again"
    if float(score) <= 0:
        return "declined"
    return "satisfied" if score >= 4 else "neutral" if score == 3 else "dissatisfied"


async def answer_score_question(agent: Any, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The slots the survey form takes from ``text`` as the first reply to its score question, and
    the model's parse of it (the model tests ask the same of single answers)."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.surveys import ValidateSurveyForm

    parse = await agent.parse_message(text)
    tracker = Tracker(
        "wx-1",
        {"requested_slot": "survey_score"},
        parse,
        [{"event": "user", "text": text, "parse_data": parse}],
        False,
        None,
        {"name": "survey_form"},
        "action_listen",
    )
    slots = await ValidateSurveyForm().extract_survey_score(CollectingDispatcher(), tracker, {})
    return slots, parse


async def measure(model: Path, files: list[Path]) -> dict[str, Any]:
    quiet_structlog()
    from rasa.core.agent import Agent

    from bot.nlu.satisfaction import load_labelled_tsv

    agent = Agent.load(str(model))
    figures: dict[str, Any] = {"model": str(model)}
    for path in files:
        outcomes: Counter[tuple[str, str]] = Counter()
        texts, labels = load_labelled_tsv(path)
        for label, text in zip(labels, texts, strict=True):
            slots, _ = await answer_score_question(agent, text)
            outcomes[(label, outcome(slots.get("survey_score")))] += 1
        total = sum(outcomes.values())
        agree = sum(n for (label, got), n in outcomes.items() if label == got)
        figures[path.name] = {
            "answers": total,
            "agreement": round(agree / total, 4) if total else None,
            "outcomes": {f"{label} -> {got}": n for (label, got), n in sorted(outcomes.items())},
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", type=Path, nargs="*", default=list(DEFAULT_FILES))
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.model or latest_model(), args.files))
    text = json.dumps(figures, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
