"""Everything that imports Rasa: the launcher, NLU components, the tracker store, the relay of
hand-off messages, the bridge that edits conversations under Rasa's lock, and the channels."""

__all__ = ["launcher", "nlu", "tracker_store", "relay", "bridge", "prefetch", "routing", "channels"]
