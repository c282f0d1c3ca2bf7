"""Held-out-intent and single-question splits of the public sets, for bench/real_traffic.py.

Pure functions over records already read (so unit tests can feed them tiny synthetic data) plus thin
readers of ``../shared/datasets``. A split is a :class:`Split`: the FAQ entries (id -> phrasings,
first = the question; optional real answers) and named query sets (text, expected entry id or None
for out of scope). Every random choice goes through :func:`sample_intents` with an explicit seed.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from bench.datasets import DATASETS, slug, write_queries

SEED = 7
Query = tuple[str, str | None]  # (text, expected entry id; None = out of scope)


@dataclass
class Split:
    """An FAQ built from a dataset and the labelled queries that score it (test labels only)."""

    entries: dict[str, list[str]]  # entry id -> phrasings (question first)
    queries: dict[str, list[Query]]  # query set name -> (text, expected id or None)
    answers: dict[str, str] = field(default_factory=dict)  # entry id -> real answer (else placeholder)
    held_out: list[str] = field(default_factory=list)  # intents whose queries are out of scope

    def write(self, folder: Path) -> dict[str, Path]:
        """``corpus.yml`` (JSON is YAML) and one ``<set>.csv`` per query set, as ``kb eval`` reads them."""
        folder.mkdir(parents=True, exist_ok=True)
        faqs = [{"id": key, "question": texts[0], "alternates": texts[1:],
                 "answer": self.answers.get(key) or f"(placeholder answer for the intent '{key}')"}
                for key, texts in self.entries.items()]
        corpus = folder / "corpus.yml"
        corpus.write_text(json.dumps({"faqs": faqs}, ensure_ascii=False, indent=0), encoding="utf-8")
        files = {"corpus": corpus}
        for name, rows in self.queries.items():
            # write_queries slugs the expected ids; ours are slugs already (slug is idempotent)
            files[name] = write_queries(folder / f"{name}.csv", rows)
        return files


def sample_intents(names: Sequence[str], k: int, seed: int = SEED) -> list[str]:
    """``k`` of ``names`` chosen at random with ``seed``, in the order of ``names``. The same names
    in the same order and the same seed always give the same choice."""
    if not 0 <= k <= len(names):
        raise ValueError(f"cannot sample {k} of {len(names)} intents")
    chosen = set(random.Random(seed).sample(list(names), k))
    return [n for n in names if n in chosen]


def group(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(text, intent) pairs -> intent -> texts, both in first-seen order."""
    out: dict[str, list[str]] = {}
    for text, intent in pairs:
        out.setdefault(intent, []).append(text)
    return out


def held_out_intents(train: Sequence[tuple[str, str]], test: Sequence[tuple[str, str]], entries: Sequence[str],
                     shots: int | None = None, extra_oos: Mapping[str, Sequence[str]] | None = None) -> Split:
    """The intents in ``entries`` become FAQ entries (their first ``shots`` training utterances, in file
    order; all with None); the test queries of every other intent are out of scope. ``extra_oos``: more
    query sets made of the in-scope test queries plus these out-of-scope texts (CLINC150's own oos)."""
    by_intent = group(train)
    unknown = sorted(set(entries) - set(by_intent))
    if unknown:
        raise ValueError(f"intents without training utterances: {unknown}")
    keep = set(entries)
    in_scope: list[Query] = [(t, slug(i)) for t, i in test if i in keep]
    held: list[Query] = [(t, None) for t, i in test if i not in keep]
    queries = {"test": in_scope + held}
    for name, texts in (extra_oos or {}).items():
        queries[name] = in_scope + [(t, None) for t in texts]
    return Split({slug(i): by_intent[i][:shots] for i in entries}, queries,
                 held_out=[i for i in dict.fromkeys(i for _, i in test) if i not in keep])


def per_domain_held_out(domains: Mapping[str, Sequence[str]], share: float, seed: int = SEED) -> list[str]:
    """Of each domain's intents, round(share * n) chosen with ``seed`` (one generator per domain,
    seeded ``<seed>:<domain>``, so a domain's choice does not depend on the others)."""
    out: list[str] = []
    for domain, names in domains.items():
        out += sample_intents(names, round(share * len(names)), seed=hash_seed(seed, domain))
    return out


def hash_seed(seed: int, name: str) -> int:
    """A stable integer seed for (seed, name): Python's str hash is salted per process."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big")


def labelled_sentences(sentences: Sequence[dict], none: str = "None") -> Split:
    """The nlu-evaluation corpora: intents of the training split as entries (``None`` left out),
    test sentences as queries, ``None`` ones out of scope. An intent with no training sentence cannot
    be an entry: its test sentences are dropped (counted in ``held_out``)."""
    train = group((s["text"].strip(), s["intent"]) for s in sentences if s["training"] and s["intent"] != none)
    rows: list[Query] = []
    dropped = []
    for s in sentences:
        if s["training"]:
            continue
        if s["intent"] == none:
            rows.append((s["text"].strip(), None))
        elif s["intent"] in train:
            rows.append((s["text"].strip(), slug(s["intent"])))
        else:
            dropped.append(s["intent"])
    return Split({slug(i): t for i, t in train.items()}, {"test": rows}, held_out=sorted(set(dropped)))


def single_question(threads: Sequence[dict], placeholder: str = "*") -> Split:
    """StackFAQ as a one-question-per-entry FAQ: each thread's ``question`` alone is the entry, its
    first answer the answer, its rephrasings (placeholders skipped) the queries."""
    entries: dict[str, list[str]] = {}
    answers: dict[str, str] = {}
    rows: list[Query] = []
    for n, thread in enumerate(threads, 1):
        key = f"thread-{n:03d}"
        entries[key] = [thread["question"].strip()]
        answer = next(iter(texts(thread.get("answer"), placeholder)), "")
        if answer:
            answers[key] = answer
        rows += [(r, key) for r in texts(thread.get("rephr"), placeholder)]
    return Split(entries, {"test": rows}, answers)


def texts(values: Sequence[str | None] | None, placeholder: str) -> list[str]:
    """The non-empty, non-placeholder strings of ``values``, stripped (StackFAQ has nulls and ``*``)."""
    return [v.strip() for v in values or [] if v and v.strip() and v.strip() != placeholder]


# Readers of ../shared/datasets -------------------------------------------------------------------

def read_banking77(folder: Path | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    folder = folder or DATASETS / "banking77"

    def rows(name: str) -> list[tuple[str, str]]:
        with open(folder / name, newline="", encoding="utf-8") as fh:
            return [(r["text"], r["category"]) for r in csv.DictReader(fh)]

    return rows("train.csv"), rows("test.csv")


def banking77_held_out(entries: int = 50, shots: int | None = 10, seed: int = SEED) -> Split:
    """Banking77: ``entries`` intents (sampled with ``seed`` from the file's intent order) as entries
    with their first ``shots`` training utterances; the other intents' test queries out of scope."""
    train, test = read_banking77()
    names = list(dict.fromkeys(i for _, i in train))
    return held_out_intents(train, test, sample_intents(names, entries, seed), shots)


# CLINC150's intents per domain, from the dataset's repository (clinc/oos-eval, data/domains.json,
# CC BY 3.0, Larson et al. 2019): data_full.json itself does not say which domain an intent is in.
CLINC150_DOMAINS: dict[str, tuple[str, ...]] = {
    "banking": ("freeze_account", "routing", "pin_change", "bill_due", "pay_bill", "account_blocked",
                "interest_rate", "min_payment", "bill_balance", "transfer", "order_checks", "balance",
                "spending_history", "transactions", "report_fraud"),
    "credit_cards": ("replacement_card_duration", "expiration_date", "damaged_card", "improve_credit_score",
                     "report_lost_card", "card_declined", "credit_limit_change", "apr", "redeem_rewards",
                     "credit_limit", "rewards_balance", "application_status", "credit_score", "new_card",
                     "international_fees"),
    "kitchen_and_dining": ("food_last", "confirm_reservation", "how_busy", "ingredients_list", "calories",
                           "nutrition_info", "recipe", "restaurant_reviews", "restaurant_reservation",
                           "meal_suggestion", "restaurant_suggestion", "cancel_reservation",
                           "ingredient_substitution", "cook_time", "accept_reservations"),
    "home": ("what_song", "play_music", "todo_list_update", "reminder", "reminder_update", "calendar_update",
             "order_status", "update_playlist", "shopping_list", "calendar", "next_song", "order", "todo_list",
             "shopping_list_update", "smart_home"),
    "auto_and_commute": ("current_location", "oil_change_when", "oil_change_how", "uber", "traffic",
                         "tire_pressure", "schedule_maintenance", "gas", "mpg", "distance", "directions",
                         "last_maintenance", "gas_type", "tire_change", "jump_start"),
    "travel": ("plug_type", "travel_notification", "translate", "flight_status", "international_visa",
               "timezone", "exchange_rate", "travel_suggestion", "travel_alert", "vaccines", "lost_luggage",
               "book_flight", "book_hotel", "carry_on", "car_rental"),
    "utility": ("weather", "alarm", "date", "find_phone", "share_location", "timer", "make_call", "calculator",
                "definition", "measurement_conversion", "flip_coin", "spelling", "time", "roll_dice", "text"),
    "work": ("pto_request_status", "next_holiday", "insurance_change", "insurance", "meeting_schedule",
             "payday", "taxes", "income", "rollover_401k", "pto_balance", "pto_request", "w2",
             "schedule_meeting", "direct_deposit", "pto_used"),
    "small_talk": ("who_made_you", "meaning_of_life", "who_do_you_work_for", "do_you_have_pets",
                   "what_are_your_hobbies", "fun_fact", "what_is_your_name", "where_are_you_from", "goodbye",
                   "thank_you", "greeting", "tell_joke", "are_you_a_bot", "how_old_are_you",
                   "what_can_i_ask_you"),
    "meta": ("change_speed", "user_name", "whisper_mode", "yes", "change_volume", "no", "change_language",
             "repeat", "change_accent", "cancel", "sync_device", "change_user_name", "change_ai_name",
             "reset_settings", "maybe"),
}


def clinc150_held_out(shots: int | None = 10, share: float = 1 / 3, seed: int = SEED,
                      data: Path | None = None) -> Split:
    """CLINC150: ``share`` of each domain's intents held out (their test queries out of scope, set
    ``test``); the rest are entries with their first ``shots`` training utterances. Set ``oos_test``:
    the same in-scope queries with CLINC150's own out-of-scope test queries."""
    raw = json.loads((data or DATASETS / "clinc150" / "data_full.json").read_text("utf-8"))
    held = set(per_domain_held_out(CLINC150_DOMAINS, share, seed))
    names = [i for i in dict.fromkeys(i for _, i in raw["train"]) if i not in held]
    return held_out_intents([tuple(r) for r in raw["train"]], [tuple(r) for r in raw["test"]], names, shots,
                            extra_oos={"oos_test": [t for t, _ in raw["oos_test"]]})


NLU_CORPORA = {"askubuntu": "AskUbuntuCorpus", "webapps": "WebApplicationsCorpus", "chatbot": "ChatbotCorpus"}


def nlu_corpus(name: str) -> Split:
    path = DATASETS / "nlu-evaluation-corpora" / f"{NLU_CORPORA[name]}.json"
    return labelled_sentences(json.loads(path.read_text("utf-8"))["sentences"])


def stackfaq() -> Split:
    raw = json.loads((DATASETS / "stackfaq" / "stackExchange-FAQ.json").read_text("utf-8"))
    return single_question(raw["root"]["qapair"])
