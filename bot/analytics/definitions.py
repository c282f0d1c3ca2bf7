"""What each figure means, written once: the page shows these, ``supportbot report --definitions``
prints them and docs/analytics.md quotes them word for word (a unit test checks)."""

from __future__ import annotations

DEFINITIONS: dict[str, str] = {
    "day": "A day in the business's time zone (SUPPORTBOT_HANDOFF_TIMEZONE).",
    "conversations": "Conversations whose customer wrote at least once, counted on the day of their first "
                     "message (one conversation id, however many sessions).",
    "contained": "Conversations that never reached a person: no hand-off was opened for them, live or as "
                 "a ticket, at any time.",
    "containment": "Contained conversations as a share of conversations.",
    "faq_questions": "Customer messages the FAQ decided on: answered, clarified (\"did you mean\") or "
                     "missed. Choosing an option or \"none of these\" is the end of a clarify, not a new "
                     "question.",
    "answer_rate": "Answered FAQ questions as a share of FAQ questions.",
    "clarify_rate": "FAQ questions answered with a \"did you mean\" list of options, as a share of FAQ "
                    "questions.",
    "miss_rate": "FAQ questions no entry fitted (including questions the bot declined as not ours), as "
                 "a share of FAQ questions.",
    "chosen": "\"Did you mean\" options customers chose (the bot then answered with that entry).",
    "refused": "\"Did you mean\" lists customers refused with \"none of these\".",
    "handoffs": "Hand-offs opened that day (live or as a ticket), by the reason recorded: the customer "
                "asked (user_request), repeated misses or the same answer twice (low_confidence), "
                "frustration, or the FAQ was unavailable (faq_unavailable).",
    "first_reply": "Time to first agent reply: from the hand-off being opened to the first message an "
                   "agent sent in it; hand-offs no agent wrote in are left out. Median and 90th "
                   "percentile (nearest rank), in seconds.",
    "handling": "Handling time: from an agent claiming the hand-off (its transition to assigned) to its "
                "end (resolved, returned to the bot or abandoned); hand-offs never claimed or still open "
                "are left out. Median and 90th percentile (nearest rank), in seconds.",
    "bot_ratings": "Ratings (1-5) customers gave when the bot asked how it did after a conversation it "
                   "handled alone, counted on the day given.",
    "person_ratings": "Ratings (1-5) customers gave a person after a resolved hand-off, counted on the "
                      "hand-off's day.",
    "votes": "Helpful / not helpful votes customers gave an entry's answers in the period (one per "
             "conversation and entry: the latest counts).",
    "entries": "The entries that answered most often in the period (an option chosen from a \"did you "
               "mean\" included).",
    "groups": "The biggest groups of open questions in the editors' inbox (misses, refused options, "
              "not helpful answers, low ratings, proposals), grouped by meaning: all open questions "
              "now, whatever the period, most customers first.",
}
