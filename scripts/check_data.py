#!/usr/bin/env python3
"""Validate the shipped QA datasets (data/ and data/study-style/, see data/README.md).

Checks the layout the study's prompt asks for (one +1 and one -1 answer per
question, the two rows of a question adjacent, disjoint train/test questions)
and the file format qa-pipe promises (UTF-8 without BOM, LF endings, header
`soru,cevap,etiket`, standard CSV quoting). data/ holds exactly 50 questions per
file; a directory whose header is `soru,cevap,etiket,kusur` (data/study-style/)
holds at least 120, and every -1 row names one of the five defect types, each
type on the same number of rows, while +1 rows leave `kusur` empty.
Exits 1 if any file has errors.

    python3 scripts/check_data.py            # checks data/ and data/study-style/
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
DEFECT_COLUMN = "kusur"
# The order is the one data/README.md defines them in; qa-pipe's DEFECT_TYPES (qa_table.rs).
DEFECT_TYPES = ["off_topic", "non_answer", "vague", "partial", "wrong_fact"]
LABELS = {"+1", "-1"}
N_QUESTIONS = 50
MIN_QUESTIONS_TYPED = 120
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


def layout_of(path):
    """`typed` when the header carries the defect column, else the classic 3-column layout."""
    first = open(path, "rb").readline().decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
    return "typed" if first.split(",") == HEADER + [DEFECT_COLUMN] else "classic"


def overlap(question, answer):
    """Share of the question's words (4+ letters, first 4 letters compared, a crude stem for an
    agglutinative language) that occur in the answer."""
    stem = lambda ws: {w[:4] for w in ws if len(w) >= 4}
    q = stem(words(question))
    return len(q & stem(words(answer))) / len(q) if q else 0.0


def check_file(path, layout="classic"):
    """Return (errors, rows, stats) for one CSV file."""
    typed = layout == "typed"
    header = HEADER + [DEFECT_COLUMN] if typed else HEADER
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
    if typed:
        if n_lines < 2 * MIN_QUESTIONS_TYPED + 1:
            errors.append("%d lines, expected at least %d" % (n_lines, 2 * MIN_QUESTIONS_TYPED + 1))
    elif n_lines != 2 * N_QUESTIONS + 1:
        errors.append("%d lines, expected %d" % (n_lines, 2 * N_QUESTIONS + 1))

    # strict: a stray quote inside a quoted field is an error, not silently glued text.
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        return errors + ["malformed CSV quoting: %s" % e], [], {}
    if not records or records[0] != header:
        errors.append("header is %r, expected %r" % (records[0] if records else None, header))
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
    if not typed and len(rows) != 2 * N_QUESTIONS:
        errors.append("%d data rows, expected %d" % (len(rows), 2 * N_QUESTIONS))
    if typed and len(rows) % 2:
        errors.append("%d data rows, expected an even number (pairs)" % len(rows))

    for i, row in enumerate(rows, start=2):
        if len(row) != len(header):
            errors.append("line %d: %d fields, expected %d: %r" % (i, len(row), len(header), row))
            continue
        if any(not f.strip() for f in row[:3]):
            errors.append("line %d: empty field: %r" % (i, row))
        if any(f != f.strip() for f in row):
            errors.append("line %d: leading/trailing whitespace in a field" % i)
        if row[2] not in LABELS:
            errors.append("line %d: label %r not in %s" % (i, row[2], sorted(LABELS)))
        if typed:
            if row[2] == "+1" and row[3]:
                errors.append("line %d: a +1 row has %s %r (must be empty)" % (i, DEFECT_COLUMN, row[3]))
            if row[2] == "-1" and row[3] not in DEFECT_TYPES:
                errors.append("line %d: %s %r not in %s" % (i, DEFECT_COLUMN, row[3], DEFECT_TYPES))
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
    if not typed and len(counts) != N_QUESTIONS:
        errors.append("%d distinct questions, expected %d" % (len(counts), N_QUESTIONS))
    if typed and len(counts) < MIN_QUESTIONS_TYPED:
        errors.append("%d distinct questions, expected at least %d" % (len(counts), MIN_QUESTIONS_TYPED))
    defects = {t: sum(1 for r in rows if r[2] == "-1" and r[3] == t) for t in DEFECT_TYPES} if typed else {}
    if typed and len(set(defects.values())) != 1:
        errors.append("defect types are not balanced: %s" % defects)
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
        "defects": defects,
    }
    if typed:
        # Regularities a reader should know of: per type, the mean length of the bad answer,
        # how often the good answer of its pair is the longer one, and the share of the
        # question's words that reappear in the answer (off-topic answers share fewest).
        good = {norm(r[0]): r[1] for r in rows if r[2] == "+1"}
        stats["by_type"] = {}
        for t in DEFECT_TYPES:
            bad = [r for r in rows if r[2] == "-1" and r[3] == t]
            stats["by_type"][t] = (
                sum(len(r[1]) for r in bad) / len(bad),
                sum(len(good[norm(r[0])]) > len(r[1]) for r in bad),
                sum(overlap(r[0], r[1]) for r in bad) / len(bad),
            )
        stats["overlap_pos"] = sum(overlap(r[0], r[1]) for r in rows if r[2] == "+1") / len(pos)
        stats["good_longer"] = sum(len(good[norm(r[0])]) > len(r[1]) for r in rows if r[2] == "-1")
    return errors, rows, stats


def check_dir(data_dir):
    """Check DIR/train.csv and DIR/test.csv and their disjointness; True when all is well."""
    ok = True
    results = {}
    layout = layout_of(os.path.join(data_dir, "train.csv"))
    for name in ("train", "test"):
        path = os.path.join(data_dir, name + ".csv")
        errors, rows, stats = check_file(path, layout)
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
        if layout == "typed":
            print("       defect types balanced: %s" % ", ".join("%s %d" % kv for kv in stats["defects"].items()))
            print("       the +1 answer is the longer of its pair in %d of %d questions; "
                  "question words (4-letter stems) found in the +1 answer: %.2f"
                  % (stats["good_longer"], stats["questions"], stats["overlap_pos"]))
            for t, (length, longer, ov) in stats["by_type"].items():
                print("       %-10s mean length %5.1f, +1 longer in %2d of %d, question words in answer %.2f"
                      % (t, length, longer, stats["defects"][t], ov))
    if not ok:
        return False

    train_q = results["train"]["question_set"]
    test_q = results["test"]["question_set"]
    shared = sorted(set(train_q) & set(test_q))
    if shared:
        print("FAIL train/test share %d question(s):" % len(shared))
        for q in shared:
            print("  - %r" % train_q[q])
        return False
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
        return False
    print("ok   train/test questions disjoint (%d + %d, none shared after case/whitespace "
          "normalisation); closest by word ratio (limit %.2f):" % (len(train_q), len(test_q), PARAPHRASE_RATIO))
    for r, a, b in pairs[:SHOW_CLOSEST]:
        print("       %.2f  %r / %r" % (r, train_q[a], test_q[b]))
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, os.pardir, "data")
    dirs = sys.argv[1:] or [data, os.path.join(data, "study-style")]
    results = [check_dir(d) for d in dirs]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
