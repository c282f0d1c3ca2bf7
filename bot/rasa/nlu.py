"""NLU components (``config.yml``).

- ``IntentClassifier``: Rasa's ``LogisticRegressionClassifier``, which fails the whole turn on an
  empty message (its features are fewer); a message without words is left to the next one.
- ``EmptyMessageClassifier``: a message with no letters or digits (empty, spaces, emoji,
  punctuation) gets the intent ``empty_message`` instead of the classifier's guess, so the bot
  asks what the customer needs. Placed after the intent classifier, before FallbackClassifier.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

EMPTY_INTENT = "empty_message"


def has_content(text: str | None) -> bool:
    return any(ch.isalnum() for ch in text or "")


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class IntentClassifier(LogisticRegressionClassifier):
    def process(self, messages: list[Message]) -> list[Message]:
        worded = []
        for message in messages:
            if has_content(message.get(TEXT)):
                worded.append(message)
            else:  # EmptyMessageClassifier names these
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        if worded:
            super().process(worded)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class EmptyMessageClassifier(GraphComponent):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> EmptyMessageClassifier:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if not has_content(message.get(TEXT)):
                intent = {"name": EMPTY_INTENT, "confidence": 1.0}
                message.set(INTENT, intent, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [intent], add_to_output=True)
        return messages
