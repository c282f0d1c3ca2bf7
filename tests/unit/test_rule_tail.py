"""bot.rasa.rules: RulePolicy on the tail of a conversation predicts as Rasa's on all of it."""

from pathlib import Path

import pytest
from rasa.core.policies.rule_policy import RulePolicy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.importers.importer import TrainingDataImporter

from bot.rasa.rules import TailRulePolicy, tail_states

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
CONFIG = {"core_fallback_threshold": 0.3, "core_fallback_action_name": "action_default_fallback",
          "enable_fallback_prediction": True}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    importer = TrainingDataImporter.load_from_dict(
        domain_path=str(ROOT / "domain.yml"), training_data_paths=[str(ROOT / "data" / "rules.yml")])
    domain = importer.get_domain()
    trackers = TrainingDataGenerator(importer.get_stories(), domain, augmentation_factor=0,
                                     remove_duplicates=True).generate()
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}), "test")
    policies = {}
    for cls in (RulePolicy, TailRulePolicy):
        policy = cls.create({**cls.get_default_config(), **CONFIG}, storage, Resource(cls.__name__), context)
        policy.train(trackers, domain)
        policies[cls] = policy
    return domain, policies


def conversation(domain, turns, intents):
    events = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    for i in range(turns):
        intent = intents[i % len(intents)]
        events += [UserUttered(f"message {i}", {"name": intent, "confidence": 0.9}),
                   ActionExecuted("action_answer_faq"), SlotSet("last_faq_id", f"faq-{i}"),
                   ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events("c", events, domain.slots)


def test_tail_states_are_the_last_states_of_the_whole_conversation(project):
    domain, _ = project
    tracker = conversation(domain, 30, ["greet", "ask_question", "affirm"])
    full = tracker.past_states(domain)
    for keep in (1, 3, 7, len(full), len(full) + 5):
        assert tail_states(tracker, domain, keep) == full[-keep:]


@pytest.mark.parametrize("turns", [0, 1, 2, 5, 40])
def test_predicts_as_rasas_rule_policy_every_intent(project, turns):
    domain, policies = project
    rasa_policy, tail_policy = policies[RulePolicy], policies[TailRulePolicy]
    assert tail_policy.longest_rule() < 12
    history = [i for i in domain.intents if not i.startswith("nlu_")] or domain.intents
    for intent in domain.intents:
        tracker = conversation(domain, turns, history)
        tracker.update(UserUttered("latest", {"name": intent, "confidence": 0.9}))
        ours = tail_policy.predict_action_probabilities(tracker, domain)
        theirs = rasa_policy.predict_action_probabilities(tracker, domain)
        assert (ours.probabilities, ours.policy_name is not None) == (theirs.probabilities, True), intent


def test_a_long_conversation_builds_no_more_states_than_the_longest_rule(project, monkeypatch):
    domain, policies = project
    tail_policy = policies[TailRulePolicy]
    built = []
    original = Domain.get_active_state

    def counting(self, tracker, omit_unset_slots=False):
        built.append(1)
        return original(self, tracker, omit_unset_slots)

    monkeypatch.setattr(Domain, "get_active_state", counting)
    tracker = conversation(domain, 200, list(domain.intents))
    tracker.update(UserUttered("latest", {"name": domain.intents[0], "confidence": 0.9}))
    tail_policy.predict_action_probabilities(tracker, domain)
    assert 0 < len(built) <= 2 * tail_policy.longest_rule()  # two lookups: by text, by intent
    built.clear()
    policies[RulePolicy].predict_action_probabilities(tracker, domain)
    assert len(built) > 400  # Rasa's: every state of the conversation, twice
