"""The only modules that import Rasa itself: a launcher and an NLU component (actions/ uses rasa-sdk)."""
