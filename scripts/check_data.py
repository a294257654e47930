#!/usr/bin/env python3
"""Validate the shipped QA dataset (data/train.csv, data/test.csv).

Checks the layout the study's prompt asks for (50 questions, one +1 and one -1
answer each, the two rows of a question adjacent, disjoint train/test questions)
and the file format qa-pipe promises (UTF-8 without BOM, LF endings, header
`soru,cevap,etiket`, standard CSV quoting). Exits 1 on the first file with errors.

    python3 scripts/check_data.py            # checks data/ next to this script
    python3 scripts/check_data.py DIR        # checks DIR/train.csv and DIR/test.csv

Standard library only (csv, difflib, unicodedata).
"""
import csv
import difflib
import io
import os
import re
import sys
import unicodedata

HEADER = ["soru", "cevap", "etiket"]
LABELS = {"+1", "-1"}
N_QUESTIONS = 50
# Train/test questions whose word sequences are this similar (difflib ratio over normalised
# words) count as near-duplicates. Character-level ratios flag questions that merely share a
# template ("Türkiye'nin en yüksek dağı ..." vs "Türkiye'nin en büyük adası ..."), so words it is.
# No threshold can catch a true paraphrase: the closest pairs are printed for a human to read.
PARAPHRASE_RATIO = 0.8
SHOW_CLOSEST = 3
# Crude Turkish negation cues, reported so a reader can see the -1 class is not marked by them.
NEGATION = re.compile(
    r"\b(değil\w*|yok\w*|hiç|asla)\b|\w+(maz|mez|mayan|meyen|madan|meden|madığ\w*|mediğ\w*)\b",
    re.IGNORECASE,
)


# Python's casefold is not Turkish-aware ("DUYARLILIK" -> "duyarlilik" but "Duyarlılık" keeps
# its dotless ı), so all four i's are folded to "i": a looser key, which is what a duplicate
# check wants.
_TR_I = str.maketrans({"İ": "i", "I": "i", "ı": "i"})


def norm(text):
    """Case- and whitespace-insensitive key, so 'DUYARLILIK  (recall)' and 'Duyarlılık (recall)' collide."""
    text = unicodedata.normalize("NFC", text).translate(_TR_I).casefold()
    return " ".join(text.replace("\u0307", "").split())


def words(text):
    return re.findall(r"\w+", norm(text))


def check_file(path):
    """Return (errors, rows, stats) for one CSV file."""
    errors = []
    raw = open(path, "rb").read()
    if raw.startswith(b"\xef\xbb\xbf"):
        errors.append("starts with a UTF-8 BOM")
    if b"\r" in raw:
        errors.append("contains CR characters (line endings must be LF)")
    if not raw.endswith(b"\n"):
        errors.append("last line does not end with LF")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return ["not valid UTF-8: %s" % e], [], {}
    if "\ufffd" in text:
        errors.append("contains U+FFFD replacement characters")
    n_lines = text.count("\n")
    if n_lines != 2 * N_QUESTIONS + 1:
        errors.append("%d lines, expected %d" % (n_lines, 2 * N_QUESTIONS + 1))

    # strict: a stray quote inside a quoted field is an error, not silently glued text.
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        return errors + ["malformed CSV quoting: %s" % e], [], {}
    if not records or records[0] != HEADER:
        errors.append("header is %r, expected %r" % (records[0] if records else None, HEADER))
    rows = records[1:]
    # Standard quoting, exactly: the file must be what csv.writer (QUOTE_MINIMAL, LF) writes for
    # its own rows, so a field is quoted iff it holds a comma, quote or newline, and "" escapes.
    canon = io.StringIO()
    csv.writer(canon, lineterminator="\n").writerows(records)
    if canon.getvalue() != text:
        bad = next(
            (i for i, (a, b) in enumerate(zip(text.split("\n"), canon.getvalue().split("\n")), 1) if a != b),
            None,
        )
        errors.append("line %s: not in standard minimal CSV quoting (expected %r)"
                      % (bad, canon.getvalue().split("\n")[bad - 1] if bad else ""))
    if len(rows) != 2 * N_QUESTIONS:
        errors.append("%d data rows, expected %d" % (len(rows), 2 * N_QUESTIONS))

    for i, row in enumerate(rows, start=2):
        if len(row) != 3:
            errors.append("line %d: %d fields, expected 3: %r" % (i, len(row), row))
            continue
        if any(not f.strip() for f in row):
            errors.append("line %d: empty field: %r" % (i, row))
        if row[0] != row[0].strip() or row[1] != row[1].strip():
            errors.append("line %d: leading/trailing whitespace in a field" % i)
        if row[2] not in LABELS:
            errors.append("line %d: label %r not in %s" % (i, row[2], sorted(LABELS)))
    if errors:
        return errors, rows, {}

    seen_rows = set()
    for i, row in enumerate(rows, start=2):
        key = tuple(norm(f) for f in row)
        if key in seen_rows:
            errors.append("line %d: duplicate row %r" % (i, row))
        seen_rows.add(key)

    # The two rows of a question are adjacent: rows (0,1), (2,3), ... form the pairs.
    questions, pos_first = [], 0
    for k in range(0, len(rows), 2):
        a, b = rows[k], rows[k + 1]
        line = k + 2
        if norm(a[0]) != norm(b[0]):
            errors.append("lines %d-%d: adjacent rows have different questions" % (line, line + 1))
            continue
        if {a[2], b[2]} != LABELS:
            errors.append("lines %d-%d: labels %s, expected one +1 and one -1" % (line, line + 1, [a[2], b[2]]))
        if norm(a[1]) == norm(b[1]):
            errors.append("lines %d-%d: +1 and -1 answers are identical" % (line, line + 1))
        pos_first += a[2] == "+1"
        questions.append(a[0])

    counts = {}
    for q in questions:
        counts[norm(q)] = counts.get(norm(q), 0) + 1
    for q, c in counts.items():
        if c != 1:
            errors.append("question %r has %d pairs, expected exactly one (+1, -1) pair" % (q, c))
    if len(counts) != N_QUESTIONS:
        errors.append("%d distinct questions, expected %d" % (len(counts), N_QUESTIONS))
    if not (0 < pos_first < len(questions)):
        errors.append("every question has the same row order (%d of %d with +1 first)" % (pos_first, len(questions)))

    quoted = sum(1 for line in text.splitlines()[1:] if line.count('"'))
    pos = [r[1] for r in rows if r[2] == "+1"]
    neg = [r[1] for r in rows if r[2] == "-1"]
    stats = {
        "questions": len(questions),
        "plus_first": pos_first,
        "lines_with_quotes": quoted,
        "fields_with_comma": sum(1 for r in rows for f in r if "," in f),
        "fields_with_dquote": sum(1 for r in rows for f in r if '"' in f),
        "mean_len_pos": sum(map(len, pos)) / len(pos),
        "mean_len_neg": sum(map(len, neg)) / len(neg),
        "negation_pos": sum(1 for a in pos if NEGATION.search(a)),
        "negation_neg": sum(1 for a in neg if NEGATION.search(a)),
        "question_set": {norm(q): q for q in questions},
    }
    return errors, rows, stats


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, os.pardir, "data")
    ok = True
    results = {}
    for name in ("train", "test"):
        path = os.path.join(data_dir, name + ".csv")
        errors, rows, stats = check_file(path)
        results[name] = stats
        if errors:
            ok = False
            print("FAIL %s:" % path)
            for e in errors:
                print("  - " + e)
            continue
        print(
            "ok   %s: %d lines, %d rows, %d questions, +1 first in %d / -1 first in %d; "
            "%d fields with a comma, %d with a double quote; "
            "mean answer length +1 %.1f / -1 %.1f chars; negation cue in %d (+1) / %d (-1) answers"
            % (
                os.path.relpath(path),
                len(rows) + 1,
                len(rows),
                stats["questions"],
                stats["plus_first"],
                stats["questions"] - stats["plus_first"],
                stats["fields_with_comma"],
                stats["fields_with_dquote"],
                stats["mean_len_pos"],
                stats["mean_len_neg"],
                stats["negation_pos"],
                stats["negation_neg"],
            )
        )
    if not ok:
        return 1

    train_q = results["train"]["question_set"]
    test_q = results["test"]["question_set"]
    shared = sorted(set(train_q) & set(test_q))
    if shared:
        print("FAIL train/test share %d question(s):" % len(shared))
        for q in shared:
            print("  - %r" % train_q[q])
        return 1
    pairs = sorted(
        (
            (difflib.SequenceMatcher(None, words(a), words(b)).ratio(), a, b)
            for a in train_q
            for b in test_q
        ),
        key=lambda t: -t[0],
    )
    if pairs[0][0] >= PARAPHRASE_RATIO:
        print("FAIL near-duplicate train/test questions (word ratio %.2f): %r / %r"
              % (pairs[0][0], train_q[pairs[0][1]], test_q[pairs[0][2]]))
        return 1
    print("ok   train/test questions disjoint (%d + %d, none shared after case/whitespace "
          "normalisation); closest by word ratio (limit %.2f):" % (len(train_q), len(test_q), PARAPHRASE_RATIO))
    for r, a, b in pairs[:SHOW_CLOSEST]:
        print("       %.2f  %r / %r" % (r, train_q[a], test_q[b]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
