"""Rasa-side glue for hand-offs: customer REST channel with a poll, the agent console, the event relay.

These run inside the Rasa server (they need its tracker store and lock store); the logic lives in
``bot.handoff``.
"""
