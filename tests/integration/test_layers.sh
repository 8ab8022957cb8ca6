#!/bin/bash
# The build's layering check (scripts/check_layers.sh, run by the build on
# the module libraries with the rules of CMakeLists.txt, written to
# layers.txt in the build directory): it passes on the build as it is, and
# it fails, naming the symbol, when a rule is tightened so that a real use
# crosses it: the engine without the model below it, and the codec
# forbidden avro-c. So a module that starts using one above it fails the
# build.
set -euo pipefail
cd "${LS_BUILD_DIR:?}"
check="${LS_SOURCE_DIR:?}/scripts/check_layers.sh"
nm=${NM:-nm}
mapfile -t specs <layers.txt
[ "${#specs[@]}" -ge 8 ] || { echo "FAIL: layers.txt has ${#specs[@]} modules" >&2; exit 1; }
sh "$check" "$nm" "${specs[@]}"
echo "PASS: the build's layering holds (${#specs[@]} modules)"

tightened=()
for s in "${specs[@]}"; do
        case $s in
        engine=*) lib=${s#engine=}; lib=${lib%%:*}
                  tightened+=("engine=$lib:state,common:rd_kafka_") ;;
        codec=*) tightened+=("$s,avro_") ;;
        *) tightened+=("$s") ;;
        esac
done
if sh "$check" "$nm" "${tightened[@]}" 2>/tmp/ls-layers.$$; then
        echo "FAIL: the check passed with rules that real uses break" >&2
        exit 1
fi
grep -q '^layering: module engine uses ls_[a-z_0-9]* of module model;' /tmp/ls-layers.$$ ||
        { cat /tmp/ls-layers.$$ >&2; echo "FAIL: no engine -> model use named" >&2; exit 1; }
grep -q '^layering: module codec uses avro_[a-z_0-9]*, but it must not use avro_\*' /tmp/ls-layers.$$ ||
        { cat /tmp/ls-layers.$$ >&2; echo "FAIL: no codec -> avro_ use named" >&2; exit 1; }
rm -f /tmp/ls-layers.$$
echo "PASS: tightened rules fail, naming the symbols that cross them"

# A check that cannot look is an error, not a pass.
if sh "$check" /nonexistent/nm "${specs[@]}" 2>/dev/null; then
        echo "FAIL: passed without an nm tool" >&2; exit 1
fi
if sh "$check" "$nm" "common=/nonexistent/libls_common.a::" 2>/dev/null; then
        echo "FAIL: passed on a library that does not exist" >&2; exit 1
fi
echo "PASS: no nm tool, or no library, fails the check"
