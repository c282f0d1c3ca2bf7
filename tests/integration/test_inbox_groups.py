"""The inbox grouped by meaning with the real encoder: paraphrases together, topics apart."""

from datetime import datetime, timedelta, timezone

from bot.inbox.groups import group_questions
from bot.inbox.store import Question

FAMILIES = {
    "mars": ["do you ship to Mars?", "can you deliver to mars", "shipping to mars possible?",
             "Do you deliver parcels to Mars"],
    "crypto": ["can I pay with bitcoin", "do you accept crypto?", "bitcoin payment possible?",
               "Can I pay in cryptocurrency"],
    "vegan": ["are your shoes vegan", "is the leather in your shoes vegan?", "do you sell vegan shoes"],
    "gift": ["can you gift wrap my order", "do you offer gift wrapping?", "gift wrap option"],
}


def questions():
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    out = []
    for family, texts in FAMILIES.items():
        for n, text in enumerate(texts):
            out.append(Question(len(out), f"{family}-{n % 2}", text, "miss", None, None, [],
                                start + timedelta(days=len(out))))
    out.append(Question(len(out), "mars-9", "do you ship to Mars?", "miss", None, None, [], start))  # again
    return out


def test_paraphrases_form_one_group_and_topics_stay_apart(real_encoder):
    groups = group_questions(questions(), real_encoder.encode,
                             nearest=lambda text, vector: [("shipping-cost", 0.42)])
    by_family = [{q.conversation_id.split("-")[0] for q in g.questions} for g in groups]
    assert sorted(map(sorted, by_family)) == [["crypto"], ["gift"], ["mars"], ["vegan"]]
    mars = groups[0]  # 3 customers: the most touched first
    assert mars.count == 5 and mars.customers == 3 and mars.examples[0].lower().count("mars") == 1
    assert mars.first_seen < mars.last_seen and mars.nearest == [("shipping-cost", 0.42)]
    assert len(mars.examples) == 4  # identical texts shown once
