"""The ``supportbot`` command: FAQ tooling and running the bot."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from bot.handoff import admin
from bot.settings import Settings, SettingsError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A problem the user can fix; printed without a stack trace."""


def _kb_paths(parser: argparse.ArgumentParser, corpus: bool = True) -> None:
    if corpus:
        parser.add_argument("--corpus", type=Path, help="FAQ file or folder (default: data/faq/)")
    parser.add_argument("--index", type=Path, help="index folder (default: kb_index/)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="supportbot", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    kb = sub.add_parser("kb", help="FAQ corpus and index").add_subparsers(dest="kb_command",
                                                                         required=True)
    v = kb.add_parser("validate", help="check the FAQ corpus")
    _kb_paths(v)
    v.add_argument("--near-duplicate", type=float, default=0.92, metavar="COSINE",
                   help="warn when phrasings of two entries are this similar (default 0.92)")
    v.add_argument("--no-embed", action="store_true", help="skip the near-duplicate check")

    b = kb.add_parser("build", help="embed the corpus and publish a new index version")
    _kb_paths(b)
    b.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    b.add_argument("--no-calibrate", action="store_true", help="keep default thresholds")
    _scoring_flags(b)

    t = kb.add_parser("tune", help="adapt the encoder to the FAQ corpus, then rebuild the index with it")
    _kb_paths(t)
    t.add_argument("--epochs", type=int, default=None,
                   help="passes over the phrasings (default: enough for 48 steps, at least one)")
    t.add_argument("--batch-size", type=int, default=64, help="pairs per step (default 64)")
    t.add_argument("--seed", type=int, default=13, help="same seed, same corpus: same model")
    t.add_argument("--no-hold-out", action="store_true",
                   help="train on every phrasing; by default one alternate per entry with 3+ "
                        "phrasings is kept out of training so corpus-only calibration is honest "
                        "(use this when you calibrate with 'kb calibrate --queries')")
    t.add_argument("--force", action="store_true",
                   help="train again even if a model for these phrasings exists")
    t.add_argument("--no-build", action="store_true",
                   help="only train; the next 'kb build' indexes with the tuned model")
    _scoring_flags(t)

    s = kb.add_parser("search", help="what would the bot answer?")
    _kb_paths(s, corpus=False)
    s.add_argument("text")
    s.add_argument("-k", type=int, default=5, help="entries to show")
    s.add_argument("--json", action="store_true")

    e = kb.add_parser("eval", help="measure answer quality on labelled queries")
    _kb_paths(e, corpus=False)
    e.add_argument("--queries", type=Path, required=True, help="CSV with query,expected_id")
    e.add_argument("--json", action="store_true")
    e.add_argument("--errors", type=int, default=0, metavar="N", help="list N wrong answers")

    c = kb.add_parser("calibrate", help="choose thresholds for the serving index version")
    _kb_paths(c, corpus=False)
    c.add_argument("--target-precision", type=float,
                   help="share of answers that should be right (default SUPPORTBOT_TARGET_PRECISION, 0.95)")
    c.add_argument("--oos-share", type=float, default=0.25,
                   help="share of out-of-scope traffic assumed (default 0.25)")
    c.add_argument("--queries", type=Path,
                   help="calibrate on this labelled CSV (a validation split, never the test set)")
    c.add_argument("--json", action="store_true")

    sub.add_parser("run", help="build the index, train if needed, start both servers")
    sub.add_parser("actions", help="start the action server only")
    sub.add_parser("train", help="train the Rasa model if its training data changed")
    ch = sub.add_parser("chat", help="chat with the running bot in the terminal (REST)")
    ch.add_argument("--url", help="REST webhook (default: the local Rasa server)")
    admin.add_parsers(sub)
    return p


def _scoring_flags(p: argparse.ArgumentParser) -> None:
    """How the built version scores and calibrates; unset flags take the settings' values."""
    p.add_argument("--target-precision", type=float,
                   help="share of answers that should be right (default SUPPORTBOT_TARGET_PRECISION, 0.95)")
    p.add_argument("--answer-weight", type=float,
                   help="weight of the answer text as evidence, 0 when answers are placeholders "
                        "(default SUPPORTBOT_ANSWER_WEIGHT, 0.5)")
    p.add_argument("--head-weight", type=float,
                   help="weight of the classifier head's probability, 0 turns the head off "
                        "(default SUPPORTBOT_HEAD_WEIGHT, 0.5)")
    p.add_argument("--lexical-weight", type=float,
                   help="weight of BM25 word matching, 0 turns it off "
                        "(default SUPPORTBOT_LEXICAL_WEIGHT, 0.4; see docs/faq-format.md)")


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """The `supportbot` command; ``settings`` default to the environment's."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings or Settings.from_env()
        if args.command == "kb":
            return KB_COMMANDS[args.kb_command](args, settings)
        if args.command == "agents":
            return admin.agents_command(args, settings)
        if args.command == "handoff":
            return admin.handoff_command(args, settings)
        from bot import runner

        return {"run": runner.run, "actions": runner.actions, "train": runner.train,
                "chat": runner.chat}[args.command](args, settings)
    except (CliError, SettingsError, admin.AdminError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _paths(args: argparse.Namespace, settings: Settings) -> tuple[Path, Path]:
    corpus = getattr(args, "corpus", None) or settings.corpus_path
    return corpus, args.index or settings.index_path


def _encoder(settings: Settings):
    from bot.kb.encoder import EncoderError, load_encoder

    try:
        return load_encoder(settings.model)
    except EncoderError as exc:
        raise CliError(str(exc)) from exc


def _version_encoder(version, settings: Settings):
    """The model the version was built with: its tuned model, else the base model."""
    from bot.kb.index import KbIndexError
    from bot.kb.tune import version_encoder

    try:
        return version_encoder(version, None if version.model_path else _encoder(settings))
    except KbIndexError as exc:
        raise CliError(str(exc)) from exc


def _version(index: Path):
    from bot.kb.index import KbIndexError
    from bot.kb.ops import load_current

    try:
        return load_current(index)
    except KbIndexError as exc:
        raise CliError(str(exc)) from exc


def cmd_validate(args, settings: Settings) -> int:
    from bot.kb.corpus import load_corpus
    from bot.kb.index import embed_phrasings, phrasing_table
    from bot.kb.validate import near_duplicates

    corpus_path, index = _paths(args, settings)
    corpus = load_corpus(corpus_path, strict=False)
    if not corpus.errors and corpus.entries and not args.no_embed:
        texts, owners = phrasing_table(corpus.entries)
        vectors, _ = embed_phrasings(index, _encoder(settings), texts)
        corpus.issues.extend(near_duplicates(corpus, vectors, owners, texts, args.near_duplicate))
    for issue in corpus.issues:
        print(issue, file=sys.stderr)
    n_phr = sum(len(e.phrasings) for e in corpus.entries)
    print(f"{len(corpus.files)} file(s), {len(corpus.entries)} entries, {n_phr} phrasings: "
          f"{len(corpus.errors)} error(s), {len(corpus.warnings)} warning(s)")
    return EXIT_ERROR if corpus.errors else EXIT_OK


def cmd_build(args, settings: Settings) -> int:
    corpus_path, index = _paths(args, settings)
    corpus = _load_corpus(corpus_path, "the build stopped; the serving index is unchanged")
    for issue in corpus.warnings:
        print(issue, file=sys.stderr)
    _build(settings, corpus, index, args, force=args.force, calibrate=not args.no_calibrate)
    return EXIT_OK


def _given(flag: float | None, setting: float) -> float:
    """A flag given on the command line wins over the setting, for this command only."""
    return setting if flag is None else flag


def _load_corpus(path: Path, consequence: str):
    from bot.kb.corpus import CorpusError, load_corpus

    try:
        return load_corpus(path)
    except CorpusError as exc:
        raise CliError(f"{exc}\n{consequence}") from exc


def _build(settings: Settings, corpus, index: Path, args: argparse.Namespace, *, force: bool,
           calibrate: bool) -> None:
    from bot.kb.encoder import EncoderError
    from bot.kb.index import KbIndexError
    from bot.kb.ops import build
    from bot.kb.tune import corpus_encoder

    started = time.perf_counter()
    try:
        encoder, note = corpus_encoder(corpus, index, _encoder(settings))
        if note:
            print(f"warning: {note}", file=sys.stderr)
        result = build(corpus, index, encoder, force=force, progress=sys.stderr.isatty(),
                       calibrate=calibrate,
                       target_precision=_given(args.target_precision, settings.target_precision),
                       answer_weight=_given(args.answer_weight, settings.answer_weight),
                       head_weight=_given(args.head_weight, settings.head_weight),
                       lexical_weight=_given(args.lexical_weight, settings.lexical_weight))
    except (KbIndexError, EncoderError, ValueError) as exc:
        raise CliError(f"{exc}\nthe build stopped; the serving index is unchanged") from exc
    m = result.manifest
    if result.up_to_date:
        print(f"index {result.name} is up to date ({m['entries']} entries); nothing to do")
    else:
        print(f"built index {result.name}: {m['entries']} entries, {m['phrasings']} phrasings "
              f"({m['encoded']} newly encoded), {m['index_type']}, "
              f"{time.perf_counter() - started:.1f} s, model {m['model']}; now serving")


def cmd_tune(args, settings: Settings) -> int:
    from bot.kb.tune import TuneError, TuneOptions, prune_models, tune

    corpus_path, index = _paths(args, settings)
    corpus = _load_corpus(corpus_path, "nothing was tuned; the serving index is unchanged")
    try:
        options = TuneOptions(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                              hold_out=not args.no_hold_out)
        result = tune(corpus, index, settings.model, options, force=args.force,
                      progress=sys.stderr.isatty(), log=print)
    except TuneError as exc:
        raise CliError(str(exc)) from exc
    m = result.manifest
    if result.up_to_date:
        print(f"the tuned model {result.path.name} already fits these phrasings (trained "
              f"{m['trained_at']}); --force trains again")
    if args.no_build:
        return EXIT_OK
    # a retrained model keeps its name: force the rebuild so the new weights serve
    _build(settings, corpus, index, args, force=not result.up_to_date, calibrate=True)
    prune_models(index, keep={result.path.name})
    return EXIT_OK


def cmd_search(args, settings: Settings) -> int:
    from bot.kb.decision import decide
    from bot.kb.evaluate import search_queries

    version = _version(args.index or settings.index_path)
    hits = search_queries(version, _version_encoder(version, settings), [args.text], settings.search_k,
                          settings.max_query_chars)[0]
    decision = decide(hits, version.thresholds, version.overrides)
    if args.json:
        print(json.dumps({"index": version.name, **decision.to_json()}, indent=2))
        return EXIT_OK
    for rank, hit in enumerate(hits[: args.k], 1):
        print(f"{rank}. {hit.score:.3f}  {hit.entry_id:<28} via {hit.phrasing!r}")
    t = decision.thresholds
    print(f"\ndecision: {decision.kind.upper()} ({decision.reason}); thresholds answer {t.answer}, "
          f"margin {t.margin}, clarify {t.clarify} [{t.source}]")
    if decision.entry_id:
        print("\n" + version.by_id[decision.entry_id].answer)
    for o in decision.options:
        print(f"  did you mean: {version.by_id[o.entry_id].question}  ({o.entry_id})")
    return EXIT_OK


def cmd_eval(args, settings: Settings) -> int:
    from bot.kb.evaluate import QueryFileError, evaluate, read_queries

    version = _version(args.index or settings.index_path)
    try:
        queries = read_queries(args.queries, set(version.by_id))
    except QueryFileError as exc:
        raise CliError(str(exc)) from exc
    report, decisions = evaluate(version, _version_encoder(version, settings), queries, k=settings.search_k)
    report = {**report, "index": version.name, "thresholds": version.thresholds.to_json()}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            if key != "thresholds":
                print(f"{key:>20}: {value}")
        print(f"{'thresholds':>20}: {version.thresholds.to_json()}")
    wrong = [(q, d) for q, d in zip(queries, decisions) if d.kind == "answer" and
             d.entry_id != q.expected]
    for q, d in wrong[: args.errors]:
        print(f"wrong: line {q.line} {q.text!r}: expected {q.expected or 'none'}, "
              f"answered {d.entry_id} ({d.top.score if d.top else 0:.3f})", file=sys.stderr)
    return EXIT_OK


def cmd_calibrate(args, settings: Settings) -> int:
    from bot.kb.evaluate import QueryFileError
    from bot.kb.index import current_path
    from bot.kb.ops import calibrate_version

    index = args.index or settings.index_path
    target_precision = _given(args.target_precision, settings.target_precision)
    version = _version(index)  # a clear error when there is no index
    try:
        thresholds, report = calibrate_version(
            current_path(index), _version_encoder(version, settings), index, queries=args.queries,
            target_precision=target_precision, oos_share=args.oos_share)
    except (QueryFileError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"thresholds: answer {thresholds.answer}, margin {thresholds.margin}, "
              f"clarify {thresholds.clarify}")
        print(f"estimated precision {report['estimated_precision']}, in-scope accuracy "
              f"{report['estimated_in_scope_accuracy']} on {report['samples_in_scope']} in-scope and "
              f"{report['samples_out_of_scope']} out-of-scope samples")
        if not report["target_reached"]:
            print(f"warning: the target precision {target_precision} cannot be reached; "
                  "the setting with the best F0.5 (precision weighted over coverage) was kept", file=sys.stderr)
    return EXIT_OK


KB_COMMANDS = {"validate": cmd_validate, "build": cmd_build, "tune": cmd_tune, "search": cmd_search,
               "eval": cmd_eval, "calibrate": cmd_calibrate}

if __name__ == "__main__":
    sys.exit(main())
