"""Canned replies: shared text snippets with a short name that agents insert in the console's reply
box (``/`` + name); editors and admins manage them (``bot.canned.store``, routes in ``bot.web.canned``)."""
