#!/bin/bash
# Every C source and header is laid out as .clang-format says: prints the
# first differences and fails otherwise. Fix with
#   clang-format -i $(git ls-files '*.c' '*.h')
set -euo pipefail
cd "${LS_SOURCE_DIR:?}"
files=$(find src include tests bench -name '*.[ch]' | sort)
if ! clang-format --dry-run --Werror $files 2>/tmp/ls-format.$$; then
        head -40 /tmp/ls-format.$$
        echo "FAIL: $(grep -c 'error:' /tmp/ls-format.$$) lines are not" \
             "laid out as .clang-format says" >&2
        rm -f /tmp/ls-format.$$
        exit 1
fi
rm -f /tmp/ls-format.$$
echo "PASS: $(echo "$files" | wc -l) files laid out as .clang-format says"
