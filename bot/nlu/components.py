"""Custom Rasa NLU components. Thin wrappers: the text rules live in ``patterns`` and ``textclf``.

- ``SimplifiedCharacters``: traditional characters to simplified, first in the pipeline.
- ``PatternEntityExtractor``: phone, order_id, case_number and rating, by rule.
- ``SatisfactionClassifier``: a top-level ``satisfaction`` {label, confidence} on every parse.
- ``ComplaintCategoryClassifier``: a ``complaint_category`` entity on complaints and feedback.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_RANKING_KEY,
    METADATA,
    METADATA_INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import patterns
from bot.nlu.satisfaction import SatisfactionModel, load_labelled_tsv
from bot.nlu.script import as_read
from bot.nlu.textclf import TextClassifier

logger = logging.getLogger(__name__)

SATISFACTION = "satisfaction"


def _entity(name: str, span: patterns.Span, extractor: str, confidence: float = 1.0) -> dict[str, Any]:
    return {
        "entity": name,
        "start": span.start,
        "end": span.end,
        "value": span.value,
        "confidence_entity": confidence,
        "extractor": extractor,
    }


def _intent_name(message: Message) -> str | None:
    intent = message.get(INTENT) or {}
    return intent.get("name") if isinstance(intent, dict) else None


class _ByRule(GraphComponent):
    """A component that learns nothing: made from its configuration alone."""

    def __init__(self, config: dict[str, Any]) -> None:
        """Nothing to keep unless a subclass reads its configuration."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _ByRule:
        return cls(config)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class SimplifiedCharacters(_ByRule):
    """Rewrites the message text in simplified characters (``bot.nlu.script``), so every later
    component, and the actions, read one script, with chat spellings written out ("不戳" → "不错").
    The tracker's event keeps what the customer typed (the console shows it, and a survey comment is
    kept as typed); the parse result, and a case's description, is simplified."""

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return _hash_files([])  # a new spelling or table changes what every later component reads

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and not text.startswith("/"):
                simplified = as_read(text)
                if simplified != text:
                    message.set(TEXT, simplified)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class PatternEntityExtractor(_ByRule, EntityExtractorMixin):
    """Exact-format entities by rule; see ``bot.nlu.patterns`` for what counts as one."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"entities": ["phone", "order_id", "case_number", "rating"]}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._wanted = set(config["entities"])

    def extract(self, text: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if "phone" in self._wanted:
            found += [_entity("phone", s, self.name) for s in patterns.find_phones(text)]
        if "case_number" in self._wanted:
            found += [
                _entity("case_number", patterns.Span(s, e, text[s:e], v), self.name)
                for s, e, v in patterns.find_case_numbers(text)
            ]
        if "order_id" in self._wanted:
            found += [_entity("order_id", s, self.name) for s in patterns.find_order_ids(text)]
        if "rating" in self._wanted and not any(e["entity"] == "phone" for e in found):
            rating = patterns.find_rating(text)
            if rating is not None:
                found.append(_entity("rating", rating, self.name))
        return found

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/"):
                continue
            new = self.extract(text)
            if new:
                message.set(ENTITIES, message.get(ENTITIES, []) + new, add_to_output=True)
        return messages


class _TrainedTextComponent(GraphComponent):
    """Shared persistence for components that hold one ``TextClassifier``-based model."""

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
    ) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _TrainedTextComponent:
        return cls(config, model_storage, resource)

    def _persist(self) -> Resource:
        with self._storage.write_to(self._resource) as directory:
            self._model.save(Path(directory))
        return self._resource


_CODE = [Path(__file__)] + [
    Path(__file__).with_name(name) for name in ("textclf.py", "satisfaction.py", "script.py")
]


def _hash_files(paths: Iterable[str]) -> str:
    """Data files and this package's model code: Rasa's cache must not reuse a stale model."""
    digest = hashlib.sha256()
    for code in _CODE:
        digest.update(code.read_bytes())
    for raw in sorted(paths):
        path = Path(raw)
        files = sorted(path.rglob("*.tsv")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file).encode())
            digest.update(file.read_bytes() if file.exists() else b"-")
    return digest.hexdigest()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentBlender(_TrainedTextComponent):
    """Blends DIET's intent ranking with a linear model over char and word n-grams.

    The two make different mistakes on short, oddly written messages; averaging their
    probabilities is steadier than either (see bench/nlu_figures.py). Runs right after DIET and
    before the FallbackClassifier, which then judges the blended confidence.

    ``kin``: groups of intents that lead to the same place. When the two likeliest are of one group,
    the first takes their summed confidence: "油烟机噪音特别大" was complaint 0.15 and inform (a problem
    described in answer to the intake's question) 0.23, and the fallback asked "您是想投诉吗？".
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"weight": 0.6, "c": 16.0, "kin": []}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return _hash_files([])

    def train(self, training_data: TrainingData) -> Resource:
        examples = training_data.intent_examples
        self._model = TextClassifier(c=float(self._config["c"]), min_df=1).fit(
            [m.get(TEXT) for m in examples], [m.get(INTENT) for m in examples]
        )
        return self._persist()

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentBlender:
        with model_storage.read_from(resource) as directory:
            model = TextClassifier.load(Path(directory))
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        weight = float(self._config["weight"])
        kin = [frozenset(group) for group in self._config.get("kin") or []]
        for message in messages:
            text = message.get(TEXT) or ""
            ranking = message.get(INTENT_RANKING_KEY) or []
            if not text or text.startswith("/") or not ranking:
                continue
            diet = {r["name"]: float(r["confidence"]) for r in ranking}
            linear = self._model.predict_proba([text])[0]
            blended = {
                name: weight * linear.get(name, 0.0) + (1 - weight) * diet.get(name, 0.0)
                for name in set(diet) | set(linear)
            }
            ordered = _merge_kin(sorted(blended.items(), key=lambda kv: kv[1], reverse=True), kin)
            new_ranking = [{"name": n, "confidence": round(c, 6)} for n, c in ordered[:10]]
            message.set(INTENT, dict(new_ranking[0]), add_to_output=True)
            message.set(INTENT_RANKING_KEY, new_ranking, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ForeignLanguageGuard(_ByRule):
    """English beyond the few phrases the training data has ("thank you", "talk to a human") is out
    of scope: the model, trained on Chinese, read "hello, my order hasn't arrived yet" as a greeting
    (0.68) and the complaint got the menu; "what's the status of my complaint" got "这个我帮不上忙".
    The actions answer it in both languages. A confident intent, or a number the message carries
    (a phone at the phone question), leaves the message alone. Runs after the intent classifiers."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"min_words": 4, "trusted_confidence": 0.8}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._min_words = int(config["min_words"])
        self._trusted = float(config["trusted_confidence"])

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            intent = message.get(INTENT) or {}
            if text.startswith("/") or message.get(ENTITIES) or not isinstance(intent, dict):
                continue
            if patterns.english_words(text) < self._min_words:
                continue
            if float(intent.get("confidence") or 0.0) >= self._trusted:
                continue
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != "out_of_scope"]
            guarded = {"name": "out_of_scope", "confidence": 1.0}
            message.set(INTENT, dict(guarded), add_to_output=True)
            message.set(INTENT_RANKING_KEY, [guarded, *ranking], add_to_output=True)
        return messages


def _merge_kin(ordered: list[tuple[str, float]], kin: list[frozenset[str]]) -> list[tuple[str, float]]:
    """The ranking with the runner-up folded into the first when both are of one ``kin`` group."""
    if len(ordered) < 2 or not any({ordered[0][0], ordered[1][0]} <= group for group in kin):
        return ordered
    (first, a), (_, b) = ordered[0], ordered[1]
    return [(first, a + b), *ordered[2:]]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SatisfactionClassifier(_TrainedTextComponent):
    """Adds ``satisfaction: {label, confidence}`` to every parse result.

    Trained on its own labelled files (``data`` in the config), not on the intent examples, so
    its training set can be far larger than the dialogue data without slowing DIET down.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"data": ["data/satisfaction"], "extra_corpora": [], "extra_weight": 0.5}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        # The labelled files live outside Rasa's training data: retrain when they change.
        return _hash_files(config.get("data", []))

    def train(self, training_data: TrainingData) -> Resource:
        texts: list[str] = []
        labels: list[str] = []
        for path in self._config["data"]:
            t, lab = load_labelled_tsv(Path(path))
            texts += [as_read(text) for text in t]  # its files bypass this pipeline's first component
            labels += lab
        if not texts:
            raise ValueError(f"no satisfaction training data under {self._config['data']}")
        self._model = SatisfactionModel.train(
            texts,
            labels,
            extra_corpora=self._config["extra_corpora"],
            extra_weight=self._config["extra_weight"],
        )
        return self._persist()

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SatisfactionClassifier:
        with model_storage.read_from(resource) as directory:
            model = SatisfactionModel.load(Path(directory))
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            rating = next((e for e in message.get(ENTITIES, []) if e.get("entity") == "rating"), None)
            score = rating.get("value") if rating else None
            label, confidence = self._model.judge(
                text,
                score if isinstance(score, int) else None,
                text[rating["start"] : rating["end"]] if rating else "",
            )
            message.set(
                SATISFACTION, {"label": label, "confidence": round(confidence, 4)}, add_to_output=True
            )
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class ComplaintCategoryClassifier(_TrainedTextComponent, EntityExtractorMixin):
    """Adds a ``complaint_category`` entity; learnt from the complaint blocks' metadata.

    Runs after the intent classifier: complaints and feedback get the model's category; any other
    message gets one only when it names a category outright ("是收费的问题"). A ``guess_intents``
    message naming none gets the model's reading at top level (``complaint_category_guess``): the
    intake starts on "油烟机装歪了" read as inform, and then asked for a category it could have read.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intents": ["complain", "give_feedback"],
            "guess_intents": ["inform"],
            "metadata_key": "complaint_category",
        }

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return _hash_files([])

    def train(self, training_data: TrainingData) -> Resource:
        key = self._config["metadata_key"]
        texts, labels = [], []
        for example in training_data.intent_examples:
            meta = (example.get(METADATA) or {}).get(METADATA_INTENT) or {}
            if key in meta:
                texts.append(example.get(TEXT))
                labels.append(str(meta[key]))
        if not texts:
            raise ValueError(f"no training examples carry intent metadata {key!r}")
        self._model = TextClassifier(char_ngrams=(1, 3), use_words=True, c=8.0, min_df=1).fit(texts, labels)
        return self._persist()

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> ComplaintCategoryClassifier:
        with model_storage.read_from(resource) as directory:
            model = TextClassifier.load(Path(directory))
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/"):
                continue
            entities = message.get(ENTITIES, [])
            if any(e.get("entity") == "complaint_category" for e in entities):
                continue
            intent = _intent_name(message)
            if intent in self._config["intents"]:
                label, confidence = self._model.predict(text)
            else:
                label, confidence = patterns.find_category_mention(text), 1.0
                if label is None:
                    if intent in self._config["guess_intents"]:
                        guess, certainty = self._model.predict(text)
                        reading = {"value": guess, "confidence": round(certainty, 4)}
                        message.set(patterns.CATEGORY_GUESS, reading, add_to_output=True)
                    continue
            entity = {
                "entity": "complaint_category",
                "start": 0,
                "end": len(text),
                "value": label,
                "confidence_entity": round(confidence, 4),
                "extractor": self.name,
            }
            message.set(ENTITIES, [*entities, entity], add_to_output=True)
        return messages
