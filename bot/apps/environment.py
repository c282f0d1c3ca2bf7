"""The environment every child process gets: the settings as ``SUPPORTBOT_*`` variables, what
Rasa's YAML files expand, offline model loading, and quiet libraries (their notices go to logs)."""

from __future__ import annotations

import os

from bot.keys import action_server_token
from bot.settings import Settings

QUIET = {
    "HF_HUB_OFFLINE": "1",  # nothing is downloaded at run time
    "TRANSFORMERS_OFFLINE": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's start-up notices
    "TRANSFORMERS_VERBOSITY": "error",  # transformers' model load reports
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def process_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings.to_env())
    env.update(rasa_variables(settings))
    for key, value in QUIET.items():
        env.setdefault(key, value)
    env.setdefault("SANIC_HOST", settings.host)
    return env


def rasa_variables(settings: Settings) -> dict[str, str]:
    """What ``endpoints.yml`` expands: the stores, the action server and its token."""
    return {**settings.rasa_env(), "ACTION_SERVER_TOKEN": action_server_token(settings)}
