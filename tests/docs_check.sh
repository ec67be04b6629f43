#!/usr/bin/env bash
# Documentation that must follow the code: every environment variable the
# binary reads is in docs/configuration.md and nothing else is listed there;
# the README stays a front page (at most 160 lines) whose links resolve; the
# map of the code in docs/design.md names every source folder that exists;
# docs/inspector.md's findings catalogue is the one `scep-lab inspect
# --catalogue` prints; docs/conformance.md's cases are `scep-lab conformance
# --catalogue`'s; docs/personas.md is `scep-lab personas --markdown`; a file
# named in a comment exists.
set -euo pipefail
BIN=$(readlink -f "${1:?usage: $0 path/to/scep-lab}")
cd "$(dirname "$0")/.."
fail() { echo "FAIL: $*" >&2; exit 1; }
from_binary=$("$BIN" config --env | cut -f1 | sort)
from_docs=$(grep -oE '^\| `SCEP_LAB_[A-Z_]+`' docs/configuration.md | tr -d '|` ' | sort)
[ "$from_binary" = "$from_docs" ] ||
    fail "docs/configuration.md and \`scep-lab config --env\` differ: $(diff <(echo "$from_binary") <(echo "$from_docs") | grep '^[<>]' | tr '\n' ' ')"
# No variable is read outside the table (the layer variables are read by settle()).
stray=$({ grep -rhoE 'env\("SCEP_LAB_[A-Z_]+"\)|getenv\("SCEP_LAB_[A-Z_]+"\)' config server cli client pki || true; } |
    grep -oE 'SCEP_LAB_[A-Z_]+' | sort -u | while read -r v; do echo "$from_binary" | grep -qx "$v" || echo "$v"; done || true)
[ -z "$stray" ] || fail "read but not in the variable table: $stray"
lines=$(wc -l <README.md)
[ "$lines" -le 160 ] || fail "README.md has $lines lines (at most 160: the rest belongs in docs/)"
# Every page in docs/ has its row in the README's documentation table.
for page in docs/*.md; do
    grep -q "^| \[$page\]($page) |" README.md || fail "README.md's documentation table has no row for $page"
done
# Relative links in README.md and docs/*.md point at files that exist.
while IFS=$'\t' read -r file target; do
    [ -e "$(dirname "$file")/$target" ] || fail "$file links to $target, which does not exist"
done < <(grep -oE '\]\([^)#:]+' README.md docs/*.md | sed -E 's/^([^:]+):\]\(/\1\t/')
# Source files the documentation names exist.
while IFS=: read -r file line path; do
    [ -e "$path" ] || fail "$file:$line names $path, which does not exist"
done < <(grep -noE '\b(pki|server|client|cli|config|tests|scripts)/[A-Za-z0-9_/.-]+\.(hpp|cpp|sh|toml|py)\b' README.md docs/*.md)
# Comments name files too: a path in a comment of the code, the tests, the
# scripts or the build (or a top-level *.md) exists in the repository.
while IFS= read -r hit; do
    path=${hit##*:}
    [ -e "$path" ] || fail "${hit%:*} names $path in a comment, which does not exist"
done < <(grep -rnoE '(//|#).*' --include='*.cpp' --include='*.hpp' --include='*.sh' --include='*.py' \
             --include='*.toml' --include='CMakeLists.txt' pki server client cli config tests scripts peers CMakeLists.txt Dockerfile 2>/dev/null |
         grep -oE '^[^:]+:[0-9]+:|(\.\./)*\b(pki|server|client|cli|config|tests|scripts|docs)/[A-Za-z0-9_/.-]+\.(hpp|cpp|sh|toml|py|md)\b|\b[A-Z][A-Z_]+\.md\b' |
         awk '/:[0-9]+:$/ { at = $0; next } { print at $0 }' | sed -E 's/:([0-9]+):/:\1:/')
for dir in pki/crypto pki/store pki/ca pki/scep pki/trust pki/persona config server peers client cli; do
    grep -q "| \`$dir/\?\`" docs/design.md || fail "docs/design.md's map does not describe $dir"
done
for dir in $(find pki config server peers client cli -mindepth 0 -maxdepth 1 -type d -name '*' | grep -vE '^(pki|config/presets)$'); do
    [ -f "$dir/CMakeLists.txt" ] || continue
    grep -q "| \`$dir/\?\`" docs/design.md || fail "docs/design.md's map does not describe $dir"
done
# The findings catalogue in docs/inspector.md is the one the code uses.
from_code=$("$BIN" inspect --catalogue)
from_doc=$(sed -n '/<!-- catalogue:begin -->/,/<!-- catalogue:end -->/p' docs/inspector.md | sed '1d;$d')
[ -n "$from_doc" ] || fail "docs/inspector.md has no catalogue between its markers"
[ "$from_code" = "$from_doc" ] ||
    fail "docs/inspector.md's catalogue differs from \`scep-lab inspect --catalogue\` (regenerate it): $(diff <(echo "$from_code") <(echo "$from_doc") | head -4 | tr '\n' ' ')"
# The conformance cases in docs/conformance.md are the ones the code runs.
from_code=$("$BIN" conformance --catalogue)
from_doc=$(sed -n '/<!-- cases:begin -->/,/<!-- cases:end -->/p' docs/conformance.md | sed '1d;$d')
[ -n "$from_doc" ] || fail "docs/conformance.md has no case table between its markers"
[ "$from_code" = "$from_doc" ] ||
    fail "docs/conformance.md's cases differ from \`scep-lab conformance --catalogue\` (regenerate them): $(diff <(echo "$from_code") <(echo "$from_doc") | head -4 | tr '\n' ' ')"
# docs/personas.md is written from the persona files.
from_code=$("$BIN" personas --markdown)
[ "$from_code" = "$(cat docs/personas.md)" ] ||
    fail "docs/personas.md differs from \`scep-lab personas --markdown\` (regenerate it: scep-lab personas --markdown > docs/personas.md): $(diff <(echo "$from_code") docs/personas.md | head -4 | tr '\n' ' ')"
echo "PASS: environment variables, README size and links, the code map, the findings catalogue, the conformance cases and the personas follow the code"
