#!/usr/bin/env python3
"""Differential test of Strata's front end against the book's C compiler (clox).

Generates token-level mutants of the conformance corpus (a token deleted,
inserted, replaced or duplicated, one to three times; inserted tokens are
drawn from the corpus's own tokens plus a few bad characters), runs clox and
`strata compile` on each, and compares them whenever at least one reports a
compile error (exit code 65): the `[line N] Error...` lines of stderr, in
order, and whether each exited 65.

    python3 tools/clox_diff.py CLOX [--strata target/release/strata]
        [--count 20000] [--seed 1] [--jobs 2] [--save DIR]
        [--corpus DIR ...] [--max-mutations 3]

CLOX is a clox binary built from the book's repository (`c/*.c`), never part
of this repository. The stock binary runs programs that compile, so each
run has a timeout; a build whose `main` only calls `compile()` is faster.

Programs whose difference is a documented one are counted apart, not as
differences (README.md, "Limits beyond LOX.md", and LOX.md):
  constants  clox also counts names and top-level literals as constants
             (`Too many constants in one chunk.`), Strata only number and
             string literals in function bodies;
  limits     Strata's own limits, `Too much nesting.` and
             `Function needs too many stack slots.`;
  nul        clox stops reading at a NUL byte (mutants never contain one).
Exit status: 0 if no difference was found, 1 otherwise.
"""
import argparse
import concurrent.futures
import os
import random
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "conformance")
ERROR_LINE = re.compile(r"^\[line \d+\] Error")
TWO_CHAR = {"!=", "==", "<=", ">="}
# Characters the scanner rejects, to insert now and then.
BAD_TOKENS = ["@", "#", "$", "|", "&", "\"unterminated", "\"", "é"]


def tokens(source):
    """The spans (start, end) of the tokens of `source`, as Lox scans them
    (an unterminated string runs to the end; any other character is a
    one-character token)."""
    spans = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in " \t\r\n":
            i += 1
        elif source.startswith("//", i):
            while i < n and source[i] != "\n":
                i += 1
        elif c == '"':
            j = source.find('"', i + 1)
            end = n if j < 0 else j + 1
            spans.append((i, end))
            i = end
        elif c.isdigit() and c.isascii():
            j = i
            while j < n and source[j].isascii() and source[j].isdigit():
                j += 1
            if j + 1 < n and source[j] == "." and source[j + 1].isascii() and source[j + 1].isdigit():
                j += 1
                while j < n and source[j].isascii() and source[j].isdigit():
                    j += 1
            spans.append((i, j))
            i = j
        elif (c.isascii() and c.isalpha()) or c == "_":
            j = i
            while j < n and ((source[j].isascii() and source[j].isalnum()) or source[j] == "_"):
                j += 1
            spans.append((i, j))
            i = j
        elif source[i:i + 2] in TWO_CHAR:
            spans.append((i, i + 2))
            i += 2
        else:
            spans.append((i, i + 1))
            i += 1
    return spans


def corpus_files(roots):
    files = []
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for name in names:
                if name.endswith(".lox"):
                    files.append(os.path.join(dirpath, name))
    return sorted(files)


def mutate(rng, source, spans, pool, max_mutations):
    """One to `max_mutations` token mutations of `source`; returns the text and a
    description. Removed or added tokens are padded with spaces so that
    neighbours never merge, and lines never move."""
    text = source
    spans = list(spans)
    done = []
    for _ in range(min(max_mutations, rng.choice([1, 1, 1, 2, 3, 4, 6]))):
        kind = rng.choice(["delete", "insert", "replace", "duplicate"])
        if not spans:
            kind = "insert"
        new = rng.choice(BAD_TOKENS) if rng.random() < 0.03 else rng.choice(pool)
        if kind == "insert":
            at = rng.choice(spans)[0] if spans else len(text)
            piece, start, end = " " + new + " ", at, at
        else:
            index = rng.randrange(len(spans))
            start, end = spans[index]
            old = text[start:end]
            if kind == "delete":
                # Keep the lines of a multi-line string.
                piece = " " + "\n" * old.count("\n")
            elif kind == "replace":
                piece = " " + new + " " + "\n" * old.count("\n")
            else:
                piece, start, end = " " + old + " ", end, end
        text = text[:start] + piece + text[end:]
        done.append(f"{kind}@{start}:{text[start:start + len(piece)].strip()!r}")
        spans = tokens(text)
    return text, " ".join(done)


def run(command, timeout):
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout)
        return proc.returncode, proc.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timeout", ""


def compare(args, job):
    index, path, text, what = job
    with tempfile.NamedTemporaryFile("w", suffix=".lox", delete=False, encoding="utf-8") as f:
        f.write(text)
        name = f.name
    try:
        clox_code, clox_err = run([args.clox, name], args.timeout)
        strata_code, strata_err = run([args.strata, "compile", name, "-o", os.devnull], 60)
    finally:
        os.unlink(name)
    if clox_code != 65 and strata_code != 65:
        if strata_code not in (0, 65):
            return index, "difference", path, what, text, clox_err, strata_err
        return index, "silent", None, None, None, None, None
    clox_lines = [l for l in clox_err.splitlines() if ERROR_LINE.match(l)]
    strata_lines = [l for l in strata_err.splitlines() if ERROR_LINE.match(l)]
    if clox_lines == strata_lines and clox_code == strata_code:
        return index, "same", None, None, None, None, None
    if "Too many constants in one chunk." in clox_err:
        verdict = "constants"
    elif "Too much nesting." in strata_err or "Function needs too many stack slots." in strata_err:
        verdict = "limits"
    elif "\0" in text:
        verdict = "nul"
    else:
        verdict = "difference"
    return index, verdict, path, what, text, "\n".join(clox_lines), "\n".join(strata_lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clox", help="path of a clox binary")
    parser.add_argument("--strata", default=os.path.join(ROOT, "target", "release", "strata"))
    parser.add_argument("--count", type=int, default=20000, help="mutants to try")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds per clox run")
    parser.add_argument("--save", help="directory to write differing mutants to")
    parser.add_argument("--show", type=int, default=20, help="differences to print")
    parser.add_argument("--corpus", action="append",
                        help="directory of .lox files to mutate (default tests/conformance)")
    parser.add_argument("--max-mutations", type=int, default=3)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    sources = []
    pool = []
    for path in corpus_files(args.corpus or [CORPUS]):
        with open(path, "rb") as f:
            raw = f.read()
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue  # Non-UTF-8 input is outside the comparison.
        if "\0" in source:
            continue
        spans = tokens(source)
        sources.append((os.path.relpath(path, ROOT), source, spans))
        pool.extend(source[s:e] for s, e in spans if "\n" not in source[s:e] and e - s <= 30)

    def jobs():
        for index in range(args.count):
            path, source, spans = rng.choice(sources)
            text, what = mutate(rng, source, spans, pool, args.max_mutations)
            yield index, path, text, what

    counts = {}
    shown = 0
    if args.save:
        os.makedirs(args.save, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool_exec:
        for result in pool_exec.map(lambda job: compare(args, job), jobs(), chunksize=1):
            index, verdict, path, what, text, clox_out, strata_out = result
            counts[verdict] = counts.get(verdict, 0) + 1
            if verdict != "difference":
                continue
            if args.save:
                with open(os.path.join(args.save, f"diff_{index}.lox"), "w", encoding="utf-8") as f:
                    f.write(text)
            if shown < args.show:
                shown += 1
                print(f"--- mutant {index} of {path}: {what}")
                print("clox:\n" + (clox_out or "(none)"))
                print("strata:\n" + (strata_out or "(none)"))
    compared = counts.get("same", 0) + counts.get("difference", 0)
    print(f"mutants: {args.count}; with a compile error on either side: "
          f"{compared + counts.get('constants', 0) + counts.get('limits', 0) + counts.get('nul', 0)}; "
          f"compared: {compared}; differences: {counts.get('difference', 0)}; "
          f"excluded: constants {counts.get('constants', 0)}, limits {counts.get('limits', 0)}, "
          f"nul {counts.get('nul', 0)}; neither errs: {counts.get('silent', 0)}")
    return 1 if counts.get("difference", 0) else 0


if __name__ == "__main__":
    sys.exit(main())
