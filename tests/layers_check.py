#!/usr/bin/env python3
"""check.layers: every #include of the code against docs/design.md's map.

The map ("Map of the code") has one row per folder; its last column says which
folders that one may use ("crypto, store" for pki/ folders, "pki" for all of
them, "everything above" for every folder of an earlier row). A file may
include its own folder's headers and those of the folders its row allows;
any other arrow fails the check, with the file, the line and the rule.
Beside the folders: only pki/store talks to SQLite, pki/ never includes Asio
or Beast, spdlog is the server's, and no folder includes a test header.
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SOURCE_EXTENSIONS = (".cpp", ".hpp", ".h", ".cpp.in")


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def read_map():
    """The map's rows in order: [(folder, allowed words)]."""
    with open(os.path.join(ROOT, "docs", "design.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.find("## Map of the code")
    if start < 0:
        fail("docs/design.md has no \"Map of the code\" section")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("## "):
            break
        m = re.match(r"^\| `([a-z_/]+?)/?` \|.*\| ([^|]*) \|$", line)
        if m:
            rows.append((m.group(1), m.group(2).strip()))
    if not rows:
        fail("docs/design.md's map has no rows")
    return rows


def allowed_folders(rows):
    folders = [folder for folder, _ in rows if folder != "tests"]
    pki = [f for f in folders if f.startswith("pki/")]
    allowed = {}
    for index, (folder, words) in enumerate(rows):
        if folder == "tests":
            continue
        ok = set()
        for word in re.split(r"[,;]\s*|\s+and\s+", words):
            word = word.strip()
            if word in ("everything above",):
                ok.update(f for f, _ in rows[:index])
            elif word == "pki":
                ok.update(pki)
            elif "pki/" + word in folders:
                ok.add("pki/" + word)
            elif word in folders:
                ok.add(word)
        ok.discard("tests")
        allowed[folder] = ok
    return folders, allowed


def folder_of(path, folders):
    best = None
    for f in folders:
        if path == f or path.startswith(f + "/"):
            if best is None or len(f) > len(best):
                best = f
    return best


def main():
    rows = read_map()
    folders, allowed = allowed_folders(rows)
    for f in folders:
        if not os.path.isdir(os.path.join(ROOT, f)):
            fail("docs/design.md's map names %s/, which does not exist" % f)
    checked = 0
    for folder in folders:
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in sorted(files):
                if not name.endswith(SOURCE_EXTENSIONS):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, ROOT)
                here = folder_of(rel, folders)
                if here != folder:
                    continue  # a subfolder with a row of its own
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = re.match(r'\s*#\s*include\s*([<"])([^">]+)[">]', line)
                        if not m:
                            continue
                        checked += 1
                        target = m.group(2)
                        where = "%s:%d includes %s" % (rel, number, target)
                        if m.group(1) == '"':
                            there = folder_of(target, folders)
                            if target.startswith(("support/", "tests/")):
                                fail(where + ": production code never includes test support")
                            if there and there != here and there not in allowed[here]:
                                fail(where + ": docs/design.md's map does not let %s/ use %s/ (it allows: %s)"
                                     % (here, there, ", ".join(sorted(allowed[here])) or "nothing"))
                        else:
                            if here.startswith("pki/") and target.startswith(("boost/asio", "boost/beast")):
                                fail(where + ": pki/ never includes Asio or Beast")
                            if target.startswith("sqlite3") and here != "pki/store":
                                fail(where + ": only pki/store talks to SQLite")
                            if target.startswith("spdlog") and here not in ("server", "cli"):
                                fail(where + ": spdlog is the server's (and the command line's)")
    print("PASS: %d includes in %d folders follow docs/design.md's map" % (checked, len(folders)))


if __name__ == "__main__":
    main()
