"""NLU quality figures: intents, complaint categories, entities and satisfaction.

Measures a trained model on data it never saw in training:
  * the held-out split ``tests/nlu/test_nlu.yml`` (intent macro-F1, category accuracy, entities),
  * the held-out survey answers ``tests/nlu/satisfaction.tsv`` (three-way satisfaction),
  * a balanced sample of ``../shared/eval/waimai_10k.csv`` (satisfied vs dissatisfied agreement),
    with SnowNLP's sentiment score (threshold 0.5) on the same sample as the stock baseline.

Also prints, apart, intent and category accuracy on ``bench/data/intents_dev.tsv``: a development set
(short, WeChat-style messages by a different author) that chooses which training examples to add; it is
neither trained on nor an evaluation figure.

Usage: python bench/nlu_figures.py [--model models/x.tar.gz] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
logging.disable(logging.WARNING)


def quiet_structlog() -> None:
    """Rasa logs every parse through structlog at debug level to stdout; keep stdout for figures."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def latest_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no trained model in models/: run `make train` first")
    return models[-1]


def macro_f1(gold: list[str], pred: list[str]) -> tuple[float, dict[str, float]]:
    per = {}
    for label in sorted(set(gold)):
        tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=False))
        fp = sum(g != label and p == label for g, p in zip(gold, pred, strict=False))
        fn = sum(g == label and p != label for g, p in zip(gold, pred, strict=False))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return sum(per.values()) / len(per), per


def waimai_sample(path: Path, per_label: int, seed: int) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = random.Random(seed)
    pos = [r["review"] for r in rows if r["label"] == "1"]
    neg = [r["review"] for r in rows if r["label"] == "0"]
    return [("satisfied", t) for t in rng.sample(pos, per_label)] + [
        ("dissatisfied", t) for t in rng.sample(neg, per_label)
    ]


async def parse_all(agent: Any, texts: list[str]) -> list[dict[str, Any]]:
    return [await agent.parse_message(t) for t in texts]


def entity_values(parse: dict[str, Any], name: str) -> list[str]:
    return [str(e.get("value")) for e in parse.get("entities", []) if e.get("entity") == name]


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.nlu.satisfaction import load_labelled_tsv

    quiet_structlog()
    figures: dict[str, Any] = {"model": str(args.model)}
    agent = Agent.load(str(args.model))

    # --- intents, categories, entities on the held-out split ------------------------------
    test = load_data(str(args.test))
    examples = test.intent_examples
    started = time.perf_counter()
    parses = await parse_all(agent, [m.get("text") for m in examples])
    figures["parse_ms_mean"] = round((time.perf_counter() - started) * 1000 / len(examples), 2)
    gold = [m.get("intent") for m in examples]
    # As `rasa test nlu` counts it: a low-confidence answer (nlu_fallback) is a wrong answer.
    pred = [(p.get("intent") or {}).get("name") for p in parses]
    f1, per_intent = macro_f1(gold, pred)
    figures["intent_macro_f1"] = round(f1, 4)
    figures["intent_accuracy"] = round(sum(g == p for g, p in zip(gold, pred, strict=False)) / len(gold), 4)
    figures["intent_f1"] = {k: round(v, 3) for k, v in per_intent.items()}
    figures["fallback_rate"] = round(
        sum((p.get("intent") or {}).get("name") == "nlu_fallback" for p in parses) / len(parses), 4
    )
    confusions = Counter((g, p) for g, p in zip(gold, pred, strict=False) if g != p)
    figures["top_confusions"] = [f"{g}->{p}: {n}" for (g, p), n in confusions.most_common(8)]

    cat_total = cat_ok = 0
    for message, parse in zip(examples, parses, strict=False):
        meta = (message.get("metadata") or {}).get("intent") or {}
        if "complaint_category" in meta:
            cat_total += 1
            cat_ok += meta["complaint_category"] in entity_values(parse, "complaint_category")
    figures["category_accuracy"] = round(cat_ok / cat_total, 4) if cat_total else None
    figures["category_examples"] = cat_total

    entity_scores = {}
    for name in ("phone", "order_id", "case_number", "rating"):
        gold_n = found = exact = 0
        for message, parse in zip(examples, parses, strict=False):
            expected = [e for e in message.get("entities", []) if e["entity"] == name]
            got = [e for e in parse.get("entities", []) if e.get("entity") == name]
            gold_n += len(expected)
            found += len(got)
            for e in expected:
                exact += any(g.get("start") == e["start"] and g.get("end") == e["end"] for g in got)
        if gold_n:
            precision = exact / found if found else 0.0
            recall = exact / gold_n
            entity_scores[name] = {
                "gold": gold_n,
                "precision": round(precision, 3),
                "recall": round(recall, 3),
            }
    figures["entities"] = entity_scores

    # --- development set: intents and categories (chooses data, so not an evaluation) ------
    if args.dev.exists():
        rows = [line.split("\t") for line in args.dev.read_text(encoding="utf-8").splitlines() if line]
        dev = await parse_all(agent, [text for _, _, text in rows])
        figures["dev_intent_accuracy"] = round(
            sum(
                (p.get("intent") or {}).get("name") == intent
                for p, (intent, _, _) in zip(dev, rows, strict=True)
            )
            / len(rows),
            4,
        )
        complaints = [(p, cat) for p, (_, cat, _) in zip(dev, rows, strict=True) if cat != "-"]
        figures["dev_category_accuracy"] = round(
            sum(cat in entity_values(p, "complaint_category") for p, cat in complaints) / len(complaints), 4
        )
        figures["dev_examples"] = len(rows)

    # --- satisfaction: own held-out survey answers (3-way) --------------------------------
    if args.satisfaction.exists():
        texts, labels = load_labelled_tsv(args.satisfaction)
        sat = await parse_all(agent, texts)
        agree = sum(p["satisfaction"]["label"] == lab for p, lab in zip(sat, labels, strict=False))
        figures["satisfaction_3way_accuracy"] = round(agree / len(labels), 4)
        figures["satisfaction_3way_examples"] = len(labels)

    # --- satisfaction: waimai balanced sample vs SnowNLP ----------------------------------
    if args.waimai.exists():
        sample = waimai_sample(args.waimai, args.per_label, args.seed)
        sat = await parse_all(agent, [t for _, t in sample])
        ours = sum(p["satisfaction"]["label"] == lab for p, (lab, _) in zip(sat, sample, strict=False)) / len(
            sample
        )
        figures["waimai_agreement"] = round(ours, 4)
        figures["waimai_examples"] = len(sample)
        figures["waimai_neutral_answers"] = sum(p["satisfaction"]["label"] == "neutral" for p in sat)
        try:
            from snownlp import SnowNLP

            base = sum((SnowNLP(t).sentiments >= 0.5) == (lab == "satisfied") for lab, t in sample) / len(
                sample
            )
            figures["waimai_snownlp_baseline"] = round(base, 4)
            figures["waimai_ratio_vs_snownlp"] = round(ours / base, 3)
        except ImportError:
            figures["waimai_snownlp_baseline"] = None
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--test", type=Path, default=ROOT / "tests/nlu/test_nlu.yml")
    parser.add_argument("--satisfaction", type=Path, default=ROOT / "tests/nlu/satisfaction.tsv")
    parser.add_argument("--dev", type=Path, default=ROOT / "bench/data/intents_dev.tsv")
    parser.add_argument("--waimai", type=Path, default=ROOT.parent / "shared/eval/waimai_10k.csv")
    parser.add_argument("--per-label", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    args.model = args.model or latest_model()
    figures = asyncio.run(measure(args))
    text = json.dumps(figures, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
