"""Rasa's RulePolicy predicting from the tail of a conversation instead of all of it.

Rasa 3.6's RulePolicy turns the whole tracker into states on every prediction (twice per user
message: text, then intent), so a turn costs more the longer the conversation: ~14 % of the Rasa
server's time in a 40-turn conversation. Yet a rule only ever looks at as many states as it is
long (``RulePolicy._is_rule_applicable``: past the rule's length it is applicable), so states
older than the longest learned rule cannot change a prediction. Here only those last states are
built; the events before them are still replayed (slots, active loop and latest action are the
same as in the full tracker), only their states are not computed. A conversation shorter than the
longest rule gets all its states, so ``conversation_start`` rules match as before.

Used in config.yml as ``bot.rasa.rules.TailRulePolicy`` with RulePolicy's own options.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker


def tail_states(tracker: DialogueStateTracker, domain: Domain, keep: int) -> list[State]:
    """The last ``keep`` of ``tracker.past_states(domain)`` (all if there are fewer), built alone."""
    events = tracker.applied_events()
    total = sum(isinstance(event, ActionExecuted) for event in events) + 1
    first = total - keep
    prior = tracker.init_copy()
    states: list[State] = []
    index = 0
    for event in events:
        if isinstance(event, ActionExecuted):
            if index >= first:
                states.append(domain._clean_state(domain.get_active_state(prior)))
            index += 1
        prior.update(event)
    states.append(domain._clean_state(domain.get_active_state(prior)))
    return states


class _Tail:
    """What the featuriser reads of a tracker (``past_states``), limited to the tail."""

    def __init__(self, tracker: DialogueStateTracker, keep: int):
        self.tracker = tracker
        self.keep = keep

    def past_states(self, domain: Domain, omit_unset_slots: bool = False,
                    ignore_rule_only_turns: bool = False, rule_only_data: Any = None) -> list[State]:
        if omit_unset_slots or ignore_rule_only_turns:  # not RulePolicy's way: Rasa's own
            return self.tracker.past_states(domain, omit_unset_slots, ignore_rule_only_turns,
                                            rule_only_data)
        return tail_states(self.tracker, domain, self.keep)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class TailRulePolicy(RulePolicy):
    """RulePolicy featurising only as many latest states as its longest rule has."""

    def longest_rule(self) -> int:
        keys = [*self.lookup.get(RULES, {}), *self.lookup.get(RULES_FOR_LOOP_UNHAPPY_PATH, {})]
        return max((len(self._rule_key_to_state(key)) for key in keys), default=1)

    def _prediction_states(self, tracker: DialogueStateTracker, domain: Domain,
                           use_text_for_last_user_input: bool = False,
                           rule_only_data: dict[str, Any] | None = None) -> list[State]:
        # computed each time: the lookup changes while training (``_rule_key_to_state`` is cached)
        return super()._prediction_states(_Tail(tracker, self.longest_rule()), domain,  # type: ignore[arg-type]
                                          use_text_for_last_user_input, rule_only_data)
