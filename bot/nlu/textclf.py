"""A small, fast text classifier for short Chinese messages: char n-grams + Jieba words → logistic regression.

Used for the satisfaction label and the complaint category. Char n-grams survive typos and unseen
words; word n-grams from Jieba (with our domain dictionary) carry negation and phrase meaning
("不好吃" vs "好吃"). Saved as JSON + NumPy arrays (no pickle): loading a model never runs code.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from bot.nlu.patterns import FACE

_REPEAT = re.compile(r"(.)\1{2,}")
_DIGITS = re.compile(r"\d+")
#: "666" is praise in Chinese chat ("溜"), not a number: masked as one, it read as a phone or an order
#: number does, and "666" to the survey question was a 3 (一般).
_SIX_SIX_SIX = re.compile(r"(?<!\d)6{3,}(?![\d元块号米%])")
USER_DICT = Path(__file__).with_name("jieba") / "userdict.txt"
_jieba_lock = threading.Lock()
_jieba = None


_FACE_SLOTS = 0xF8FF - 0xE000


def _face_mark(match: re.Match[str]) -> str:
    """One private-use character per face, so "[强]" is a feature of its own: written out, its
    characters would lend the face's tone to "强烈要求退款" and its brackets to every other face."""
    return chr(0xE000 + zlib.crc32(match.group(1).lower().encode()) % _FACE_SLOTS)


def normalise(text: str) -> str:
    """Fold width and case, one mark per WeChat face, "666" as the word it stands for, squash runs
    ("！！！！" → "！！"), mask digit runs."""
    text = FACE.sub(_face_mark, unicodedata.normalize("NFKC", text)).lower()
    text = _SIX_SIX_SIX.sub("溜溜", text)
    text = _REPEAT.sub(r"\1\1", text)
    return _DIGITS.sub(lambda m: "0" if len(m.group()) < 3 else "#", text)


def _tokenizer() -> Any:  # a jieba.Tokenizer (jieba has no type information)
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(60)
            tokenizer = jieba.Tokenizer()
            tokenizer.load_userdict(str(USER_DICT))
            _jieba = tokenizer
    return _jieba


def words(text: str) -> list[str]:
    """Jieba words and word bigrams of the normalised text."""
    tokens = [t for t in _tokenizer().lcut(normalise(text)) if t.strip()]
    return tokens + [f"{a}_{b}" for a, b in itertools.pairwise(tokens)]


class TextClassifier:
    def __init__(
        self, char_ngrams: tuple[int, int] = (1, 3), use_words: bool = True, c: float = 4.0, min_df: int = 2
    ) -> None:
        self.params = {"char_ngrams": list(char_ngrams), "use_words": use_words, "c": c, "min_df": min_df}
        self._char = TfidfVectorizer(
            analyzer="char",
            ngram_range=char_ngrams,
            min_df=min_df,
            sublinear_tf=True,
            preprocessor=normalise,
            dtype=np.float32,
            max_features=300_000,
        )
        self._word = (
            TfidfVectorizer(analyzer=words, min_df=min_df, sublinear_tf=True, dtype=np.float32)
            if use_words
            else None
        )
        self._clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
        self.labels: list[str] = []
        self._idf: dict[int, np.ndarray] = {}  # by id(vectorizer), read once after fit or load

    def _features(self, texts: Sequence[str], fit: bool = False) -> csr_matrix:
        if fit:
            self._idf.clear()
            parts = [self._char.fit_transform(texts)]
            if self._word is not None:
                parts.append(self._word.fit_transform(texts))
        else:
            parts = [self._weighted(self._char, texts)]
            if self._word is not None:
                parts.append(self._weighted(self._word, texts))
        return hstack(parts).tocsr()

    def _weighted(self, vectorizer: TfidfVectorizer, texts: Sequence[str]) -> csr_matrix:
        """``vectorizer.transform(texts)``, number for number, at a cost that grows with the texts
        rather than the vocabulary: scikit-learn 1.1 sums its whole N×N idf diagonal on every call
        only to check that it is fitted, which made one message cost 11 ms in the satisfaction model
        (300,000 n-grams) and a batch of 200 cost 0.2 ms a message."""
        idf = self._idf.get(id(vectorizer))
        if idf is None:
            idf = self._idf[id(vectorizer)] = vectorizer.idf_
        x = CountVectorizer.transform(vectorizer, texts)  # the counts, as TfidfVectorizer starts
        if vectorizer.sublinear_tf:
            np.log(x.data, x.data)
            x.data += 1
        x = x.astype(np.result_type(x.dtype, idf.dtype))  # as multiplying by the diagonal did
        x.data *= idf[x.indices]
        return normalize(x, norm=vectorizer.norm, copy=False)

    def fit(
        self, texts: Sequence[str], labels: Sequence[str], weights: Sequence[float] | None = None
    ) -> TextClassifier:
        x = self._features(list(texts), fit=True)
        self._clf.fit(x, list(labels), sample_weight=None if weights is None else np.asarray(weights))
        self.labels = [str(c) for c in self._clf.classes_]
        return self

    def predict_proba(self, texts: Sequence[str]) -> list[dict[str, float]]:
        probs = self._clf.predict_proba(self._features(list(texts)))
        return [{label: float(p) for label, p in zip(self.labels, row, strict=True)} for row in probs]

    def predict(self, text: str) -> tuple[str, float]:
        probs = self.predict_proba([text])[0]
        label = max(probs, key=probs.__getitem__)
        return label, probs[label]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "params": self.params,
            "labels": self.labels,
            "char_vocabulary": sorted(self._char.vocabulary_, key=self._char.vocabulary_.__getitem__),
            "word_vocabulary": (
                sorted(self._word.vocabulary_, key=self._word.vocabulary_.__getitem__) if self._word else []
            ),
        }
        (directory / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        arrays = {
            "char_idf": self._char.idf_.astype(np.float32),
            "coef": self._clf.coef_.astype(np.float32),
            "intercept": self._clf.intercept_.astype(np.float32),
        }
        if self._word is not None:
            arrays["word_idf"] = self._word.idf_.astype(np.float32)
        np.savez_compressed(directory / "weights.npz", **arrays)

    @classmethod
    def load(cls, directory: Path) -> TextClassifier:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        p = meta["params"]
        model = cls(tuple(p["char_ngrams"]), p["use_words"], p["c"], p["min_df"])
        arrays = np.load(directory / "weights.npz", allow_pickle=False)
        model._char.vocabulary_ = {term: i for i, term in enumerate(meta["char_vocabulary"])}
        model._char.idf_ = arrays["char_idf"]
        if model._word is not None:
            model._word.vocabulary_ = {term: i for i, term in enumerate(meta["word_vocabulary"])}
            model._word.idf_ = arrays["word_idf"]
        # float64 and column-major: every prediction multiplies by coef_.T, which scipy otherwise
        # copies (and converts) whole on each call.
        model._clf.coef_ = np.asfortranarray(arrays["coef"], dtype=np.float64)
        model._clf.intercept_ = arrays["intercept"]
        model._clf.classes_ = np.array(meta["labels"])
        model.labels = list(meta["labels"])
        return model
