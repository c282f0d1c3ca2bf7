import csv
import io
import json
from pathlib import Path

import pytest

from bot.editor.changes import DELETE, SAVE, applied, revision
from bot.editor.csv_format import MAX_BYTES, MAX_ROWS
from bot.editor.csv_io import export_csv, plan_import
from bot.editor.faq_yaml import read_folder
from bot.kb.corpus import MAX_TEXT_CHARS, FaqEntry, load_corpus, load_texts

HEADER = "id,question,alternates,answer,tags,file\r\n"

TRICKY = [
    FaqEntry(id="quotes-commas", question='What does "free, fast" shipping mean?',
             answer='It means "free" over $50, and fast: 2–3 days.\n\nSee "Shipping, explained".',
             alternates=('is shipping "free"?', "free, fast shipping"), tags=("shipping", "faq, misc"),
             file="shipping.yml"),
    FaqEntry(id="markdown-list", question="Which payment methods do you take?",
             answer="- **Cards**: Visa, Mastercard\n- *PayPal*\n  1. nested\n\n> quoted `code`\n| a | b |",
             alternates=("- can I pay with a card?", "@support payments"), tags=("payments",),
             file="payments.yml"),
    FaqEntry(id="formulas", question="=SUM(A1:A2)", answer="-5% off every order",
             alternates=("+1 555 0100", "=HYPERLINK(\"http://evil.example\",\"click\")", "'=quoted already",
                         "''-two quotes", "'Tis the season"),
             tags=("@tag", "-minus"), file="payments.yml"),
    FaqEntry(id="non-ascii", question="¿Dónde está mi pedido? 注文はどこ？", answer="Ça arrive bientôt ✅ → 🚚",
             alternates=("Wo ist meine Bestellung?", "Где мой заказ?"), tags=("orders",),
             file="orders.yml"),
    FaqEntry(id="quote-start", question="'Tis a question?", answer="'=not a formula' said the answer",
             file="orders.yml"),
]


def cells(text):
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def fields(entry):
    return (entry.id, entry.question, entry.alternates, entry.answer, entry.tags)


@pytest.fixture(scope="module")
def demo(root):
    return load_corpus(root / "data" / "faq").entries


def by_row(plan):
    return {(e.row, e.column): e.message for e in plan.errors}


def test_export_then_import_of_the_demo_corpus_changes_nothing(demo):
    text = export_csv(demo)
    for given in (text, text.encode("utf-8")):
        plan = plan_import(given, demo, default_file="misc.yml", delete_missing=True)
        assert plan.ok and not plan.warnings and not plan.changes
        assert plan.unchanged == [e.id for e in demo] and len(demo) > 80
        assert not plan.added and not plan.updated and not plan.deleted


def test_export_then_import_of_the_folder_as_the_editor_reads_it_changes_nothing(root):
    entries = load_texts(read_folder(root / "data" / "faq")).entries
    assert entries[0].file == "account.yml"
    plan = plan_import(export_csv(entries), entries, default_file="editor.yml", delete_missing=True)
    assert plan.ok and not plan.warnings and not plan.changes and len(plan.unchanged) == len(entries)


def test_export_then_import_reads_back_every_text_exactly(demo):
    entries = [*demo, *TRICKY]
    plan = plan_import(export_csv(entries), [], default_file="misc.yml")
    assert plan.ok, plan.errors
    assert [fields(c.entry) for c in plan.changes] == [fields(e) for e in entries]
    assert plan_import(export_csv(TRICKY), TRICKY, default_file="misc.yml").unchanged == [e.id for e in TRICKY]


def test_export_is_rfc4180_with_a_bom_and_guards_every_formula_cell():
    text = export_csv(TRICKY)
    assert text.startswith("\ufeffid,question,alternates,answer,tags,file\r\n")
    rows = cells(text)
    assert len(rows) == len(TRICKY) + 1 and all(len(r) == 6 for r in rows)
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
    formulas = dict(zip(rows[0], rows[3]))
    assert formulas["question"] == "'=SUM(A1:A2)" and formulas["answer"] == "'-5% off every order"
    assert formulas["alternates"].split("\n")[0] == "'+1 555 0100"  # the cell's start is what a sheet runs
    assert formulas["tags"] == "'@tag\n-minus" and formulas["file"] == "payments.yml"
    quote_start = dict(zip(rows[0], rows[5]))
    assert quote_start["question"] == "'Tis a question?"  # a quote before plain text is left alone
    assert quote_start["answer"] == "''=not a formula' said the answer"
    assert dict(zip(rows[0], rows[1]))["alternates"] == 'is shipping "free"?\nfree, fast shipping'


def test_what_a_spreadsheet_saves_reads_as_the_editor_meant():
    # Windows line endings between and inside cells, a BOM, header names in any case with spaces,
    # a formula typed without a guard (the sheet saves it bare), empty trailing lines and blank rows.
    text = ("\ufeff Question ;ANSWER;Alternates ;Tags\r\n"
            '"=SUM(1;2)?";"Line one\r\n- item; with semicolon\r\n";"first\r\n\r\nsecond";"a\r\nb"\r\n'
            ";;;\r\n"
            "\r\n")
    plan = plan_import(text.encode("utf-8"), [], default_file="misc.yml")
    assert plan.ok, plan.errors
    [change] = plan.changes
    entry = change.entry
    assert entry.question == "=SUM(1;2)?" and entry.answer == "Line one\n- item; with semicolon"
    assert entry.alternates == ("first", "second") and entry.tags == ("a", "b")
    assert entry.id == "sum-1-2" and entry.file == "misc.yml" and plan.added == ["sum-1-2"]


def test_rows_become_added_updated_unchanged_and_deleted(demo):
    current = [e for e in demo if e.file.endswith(("account.yml", "contact.yml"))]
    changed, same, gone = current[0], current[1], current[2]
    rows = cells(export_csv([changed, same]))
    rows[1][3] = "A new answer,\nwith two lines."
    rows[1][2] += "\nMake me an account please"
    rows.append(["brand-new", "Do you sell gift cards?", "", "Yes, from $10.", "gift", "contact.yml"])
    rows.append(["", "How do I create an account?", "", "A second entry, no id given.", "", ""])
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    plan = plan_import(out.getvalue(), current, default_file="account.yml", delete_missing=True)
    assert plan.added == ["brand-new", "how-do-i-create-an-account"]
    assert plan.updated == [changed.id] and plan.unchanged == [same.id]
    assert plan.deleted == [e.id for e in current[2:]] and gone.id in plan.deleted
    ops = {c.id: c for c in plan.changes}
    assert ops[changed.id].op == SAVE and ops[changed.id].base == revision(changed)
    assert ops[changed.id].entry.file == changed.file and ops[changed.id].entry.thresholds == changed.thresholds
    assert ops["brand-new"].base is None and ops["brand-new"].entry.file.endswith("data/faq/contact.yml")
    assert ops["how-do-i-create-an-account"].entry.file == changed.file  # default_file, as the corpus names it
    assert ops[gone.id].op == DELETE and ops[gone.id].base == revision(gone)
    # the second "How do I create an account?" is a phrasing of two entries: a warning at its row
    assert [(w.row, w.column) for w in plan.warnings] == [(5, "question")]
    assert "also belongs to entry" in plan.warnings[0].message

    page = json.loads(json.dumps(plan.to_json()))
    kinds = {c["id"]: c["kind"] for c in page["changes"]}
    assert kinds == {changed.id: "updated", "brand-new": "added", "how-do-i-create-an-account": "added",
                     **{e.id: "deleted" for e in current[2:]}}
    [update] = [c for c in page["changes"] if c["kind"] == "updated"]
    assert set(update["diff"]) == {"answer", "alternates"} and update["row"] == 2
    assert update["diff"]["answer"] == {"before": changed.answer, "after": "A new answer,\nwith two lines."}
    assert update["diff"]["alternates"]["after"][-1] == "Make me an account please"
    assert update["change"]["base"] == revision(changed) and page["ok"] is True


def test_new_ids_from_questions_are_unique_and_valid():
    current = [FaqEntry(id="how-do-i-pay", question="How do I pay?", answer="A", file="f.yml")]
    text = "question,answer\nHow do I pay?,B\nhow do I PAY?,C\n¿Qué? ✅,D\n!!!,E\n" + "word " * 30 + ",F\n"
    plan = plan_import(text, current, default_file="f.yml")
    assert plan.updated == ["how-do-i-pay"]  # a row without an id is the entry with its question
    assert plan.added == ["how-do-i-pay-2", "que", "entry", "word-word-word-word-word-word-word-word-word"]
    assert plan.ok and {w.row for w in plan.warnings} == {3}


def test_importing_a_file_without_ids_twice_changes_nothing_the_second_time():
    current = [FaqEntry(id="pay", question="How do I pay?", answer="A", file="f.yml")]
    text = "question,answer\nHow do I pay?,A\nDo you ship to the Moon?,Not yet.\n"
    first = plan_import(text, current, default_file="f.yml")
    assert first.unchanged == ["pay"] and first.added == ["do-you-ship-to-the-moon"]
    again = plan_import(text, applied(current, first.changes), default_file="f.yml")
    assert again.changes == [] and sorted(again.unchanged) == ["do-you-ship-to-the-moon", "pay"]
    kept = plan_import(text, applied(current, first.changes), default_file="f.yml", delete_missing=True)
    assert kept.deleted == []  # matched by question: not missing


def test_files_are_kept_moved_or_defaulted():
    current = [FaqEntry(id="a", question="Qa", answer="A", file="one.yml"),
               FaqEntry(id="b", question="Qb", answer="B", file="two.yml"),
               FaqEntry(id="t", question="Qt", answer="T", file="team/billing.yaml")]
    assert cells(export_csv(current))[3][5] == "team/billing.yaml"
    text = ("id,question,answer,file\na,Qa,A,\nb,Qb,B,one.yml\nc,Qc,C,team/new.yaml\n,Qd,D,\n"
            "t,Qt,T,team/billing.yaml\n")
    plan = plan_import(text, current, default_file="two.yml")
    assert plan.unchanged == ["a", "t"] and plan.updated == ["b"] and plan.added == ["c", "qd"]
    files = {c.id: c.entry.file for c in plan.changes}
    assert files == {"b": "one.yml", "c": "team/new.yaml", "qd": "two.yml"}
    assert plan.to_json()["changes"][0]["diff"] == {"file": {"before": "two.yml", "after": "one.yml"}}
    no_column = plan_import("question,answer\nQe,E\n", current, default_file="three.yml")
    assert no_column.changes[0].entry.file == "three.yml"
    with pytest.raises(ValueError, match="x.txt"):
        plan_import("question,answer\nQ,A\n", current, default_file="../x.txt")


def test_paths_as_load_corpus_gives_them_export_as_file_names(demo):
    assert {r[5] for r in cells(export_csv(demo))[1:]} == {p.name for p in {Path(e.file) for e in demo}}
    current = [FaqEntry(id="a", question="Qa", answer="A", file="/srv/faq/one.yml")]
    plan = plan_import("question,answer,file\nQn,N,one.yml\n", current, default_file="x.yml")
    assert plan.changes[0].entry.file == "/srv/faq/one.yml"  # the file the corpus knows by that name


LONG = "x" * (MAX_TEXT_CHARS + 1)


@pytest.mark.parametrize("rows, row, column, words", [
    (",A\n", 2, "question", "question is empty"),
    ("Q,   \n", 2, "answer", "answer is empty"),
    (f"Q,{LONG}\n", 2, "answer", "characters long"),
    (f'{LONG},A\n', 2, "question", "characters long"),
    (f'Q,A,"ok\n{LONG}"\n', 2, "alternates", "line 2 is"),
    ("Q,A,,,Bad Id\n", 2, "id", "must be a slug"),
    ("Q,A,,,dup\nQ2,A2,,,dup\n", 3, "id", "also on row 2"),
    ("Q,A,,../escape.yml\n", 2, "file", "inside the FAQ folder"),
    ("Q,A,,/etc/faq.yml\n", 2, "file", "inside the FAQ folder"),
    ("Q,A,,sub\\dir.yml\n", 2, "file", "inside the FAQ folder"),
    ("Q,A,,.hidden.yml\n", 2, "file", "inside the FAQ folder"),
    ("Q,A,,notes.txt\n", 2, "file", "ending in .yml or .yaml"),
    ('"multi\nline",A\n"Q,A\n', 3, None, "double quotes"),
    ('"Q","A"x\n', 2, None, "double quotes"),
    ("Q,A,,,,surplus\n", 2, None, "cell F2 holds text"),
])
def test_each_bad_row_is_named_by_row_and_column(rows, row, column, words):
    plan = plan_import("question,answer,alternates,file,id\n" + rows, [], default_file="misc.yml")
    assert not plan.ok
    messages = by_row(plan)
    assert (row, column) in messages, plan.errors
    assert words in messages[(row, column)]


@pytest.mark.parametrize("text, row, column, words", [
    ("question,answer,category\nQ,A,x\n", 1, "category", "unknown column 'category'"),
    ("Question,Answer,Notes ,Extra\nQ,A,,\n", 1, "notes", "unknown column 'Notes'"),
    ("question,id\nQ,a\n", 1, "answer", "no 'answer' column"),
    ("question,answer,answer\nQ,A,B\n", 1, "answer", "appears 2 times"),
    ("faqs:\n  - id: x\n", 1, None, "first row must be the header"),
    ('{"faqs": []}', 1, None, "first row must be the header"),
    ("", 1, None, "first row must be the header"),
    ("question,answer\r\n\r\n", 2, None, "no entries below the header"),
    (b"question,answer\nCaf\xe9,A\n", 0, None, "not UTF-8 text (byte 0xe9 on line 2)"),
    ("question,answer\nQ,A\n".encode("utf-16"), 0, None, "UTF-16"),
    (b"PK\x03\x04\x14\x00\x06\x00", 0, None, "spreadsheet workbook"),
    ("question,answer\nQ\x00,A\n", 0, None, "binary data"),
    ("question,answer\nQ\ud800,A\n", 0, None, "surrogate"),
    ("question,answer\n" + "Q,A\n" * (MAX_ROWS + 1), MAX_ROWS + 2, None, f"more than {MAX_ROWS} entries"),
    (b"question,answer\n" + b"x" * MAX_BYTES, 0, None, "at most 5 MB"),
])
def test_each_unreadable_file_gets_one_clear_error(text, row, column, words):
    plan = plan_import(text, [], default_file="misc.yml", delete_missing=True)
    assert not plan.changes and not plan.ok
    assert [(e.row, e.column) for e in plan.errors][:1] == [(row, column)], plan.errors
    assert words in plan.errors[0].message


def test_row_numbers_are_spreadsheet_rows_not_lines():
    text = 'question,answer\n"Q one","line 1\nline 2\nline 3"\nQ two,\n'
    assert [(e.row, e.column) for e in plan_import(text, [], default_file="m.yml").errors] == [(3, "answer")]


def test_a_bad_row_blocks_the_import_but_the_rest_is_still_previewed(demo):
    rows = cells(export_csv(demo))
    rows[2][3] = ""  # the second entry's answer
    rows[3][3] = "Edited."
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    plan = plan_import(out.getvalue(), demo, default_file="misc.yml", delete_missing=True)
    assert [(e.row, e.column) for e in plan.errors] == [(3, "answer")] and not plan.ok
    assert plan.updated == [demo[2].id] and not plan.deleted  # the bad row's entry is not deleted
    assert plan.to_json()["errors"] == [{"row": 3, "column": "answer",
                                         "message": plan.errors[0].message}]


def test_cross_entry_problems_from_the_corpus_validator_map_to_rows():
    current = [FaqEntry(id="refund", question="How long does a refund take?", answer="3 days",
                        alternates=("money back?",), file="r.yml"),
               FaqEntry(id="zz-later", question="Where is my parcel?", answer="Tracking", file="r.yml")]
    # row 2 updates 'refund' so that it claims the later entry's question: the validator reports it on
    # 'zz-later' (seen second), naming 'refund', and the preview shows it at row 2.
    text = ('id,question,alternates,answer\n'
            'refund,How long does a refund take?,"money back?\nWhere is my PARCEL?",3 days\n'
            ',Another one,"same alt\nSame  alt",x\n')
    plan = plan_import(text, current, default_file="r.yml")
    assert plan.ok
    found = {(w.row, w.column): w.message for w in plan.warnings}
    assert "also belongs to entry 'refund'" in found[(2, "alternates")]
    assert "the same alternate appears twice" in found[(3, "alternates")]
    # the plan's changes are what applied() makes of the current entries
    result = {e.id: e for e in applied(current, plan.changes)}
    assert result["refund"].alternates == ("money back?", "Where is my PARCEL?")
    assert result["another-one"].alternates == ("same alt", "Same  alt")


def test_tags_written_with_commas_get_a_warning():
    plan = plan_import("question,answer,tags\nQ,A,\"shipping, orders\"\n", [], default_file="m.yml")
    assert plan.ok and [(w.row, w.column) for w in plan.warnings] == [(2, "tags")]
    assert "one tag per line" in plan.warnings[0].message
