"""Runs the ``rasa`` command line with two speed-ups found by profiling FAQ turns.

- Rasa 3.6 checks its whole events JSON Schema against the JSON Schema meta-schema on every
  action server reply (``jsonschema.validate`` re-checks the schema each call): about 15 ms of a
  ~90 ms FAQ turn on a 2-core machine. Here the validator is compiled once; replies are still
  validated against the same schema and fail with the same error.
- Reading a conversation looks up every stored event's class by walking all ``Event``
  subclasses (``Event.resolve_by_type``): ~14 % of the Rasa server's time in a 40-turn
  conversation. Here the lookup is remembered per event name (the classes never change).

Usage: ``python -m bot.rasa_ext.server run --model ...`` (any ``rasa`` arguments).
"""

from __future__ import annotations

import functools
import sys
from typing import Any


@functools.lru_cache(maxsize=1)
def _response_validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        _response_validator().validate(result)
    except ValidationError as e:
        e.message += (". Failed to validate Action server response from API, make sure your response "
                      f"from the Action endpoint is valid. For more information visit {DOCS_BASE_URL}"
                      "/custom-actions")
        raise
    return True


def install_speedups() -> None:
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event

    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    if not hasattr(Event.resolve_by_type, "cache_info"):  # unknown names still raise, uncached
        Event.resolve_by_type = staticmethod(  # type: ignore[method-assign]
            functools.lru_cache(maxsize=256)(Event.resolve_by_type))


def main() -> None:
    install_speedups()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
