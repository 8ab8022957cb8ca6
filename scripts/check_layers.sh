#!/bin/sh
# check_layers.sh NM MODULE=ARCHIVE:ALLOWED:FORBIDDEN ...
#
# The layering of docs/ARCHITECTURE.md ("Layers"), checked on the built
# module libraries: every symbol a module uses from another module of
# ours (an undefined ls_* symbol) must be defined by one of the modules
# it may use, and it must use no symbol of the libraries it may not touch.
#   MODULE     the module's name (engine, codec, ...)
#   ARCHIVE    its static library
#   ALLOWED    the modules it may use, comma-separated (none: empty)
#   FORBIDDEN  prefixes of foreign symbols it must not use, comma-separated
#              (e.g. rd_kafka_,curl_: the engine knows no transport)
# Run by the build after the libraries are linked; exits 1 naming each
# symbol that crosses a layer the wrong way, and 2 when it cannot check
# (no nm, an unreadable library, one that defines nothing).
set -eu
export LC_ALL=C
nm=${1:-}
[ $# -ge 2 ] || { echo "check_layers.sh: usage: NM SPEC..." >&2; exit 2; }
shift
command -v "$nm" >/dev/null 2>&1 ||
        { echo "check_layers.sh: no nm tool '$nm'" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "$@"; do
        mod=${spec%%=*}
        rest=${spec#*=}
        lib=${rest%%:*}
        [ -r "$lib" ] || { echo "check_layers.sh: $mod: cannot read $lib" >&2; exit 2; }
        # nm's output to files first, so that its failure is seen (no
        # pipefail in sh), and a library that defines nothing is an error:
        # a check over nothing would pass
        "$nm" -g --defined-only "$lib" >"$tmp/$mod.nm" ||
                { echo "check_layers.sh: $nm failed on $lib" >&2; exit 2; }
        "$nm" -u "$lib" >"$tmp/$mod.nmu" ||
                { echo "check_layers.sh: $nm -u failed on $lib" >&2; exit 2; }
        awk 'NF == 3 { print $3 }' "$tmp/$mod.nm" | sort -u >"$tmp/$mod.def"
        [ -s "$tmp/$mod.def" ] ||
                { echo "check_layers.sh: $lib defines no symbol" >&2; exit 2; }
done
status=0
for spec in "$@"; do
        mod=${spec%%=*}
        rest=${spec#*=}
        lib=${rest%%:*}
        rest=${rest#*:}
        allowed=${rest%%:*}
        forbidden=${rest#*:}
        awk 'NF { print $NF }' "$tmp/$mod.nmu" | sort -u |
                comm -23 - "$tmp/$mod.def" >"$tmp/$mod.undef"
        # ours: defined by some module
        for other in "$@"; do
                o=${other%%=*}
                [ "$o" = "$mod" ] && continue
                case ",$allowed," in *",$o,"*) continue ;; esac
                comm -12 "$tmp/$mod.undef" "$tmp/$o.def" | while read -r sym; do
                        echo "layering: module $mod uses $sym of module $o;" \
                                "$mod may use only: ${allowed:-nothing}" \
                                "(docs/ARCHITECTURE.md, Layers)" >&2
                        echo x >>"$tmp/failed"
                done
        done
        [ -n "$forbidden" ] || continue
        for prefix in $(echo "$forbidden" | tr ',' ' '); do
                grep "^$prefix" "$tmp/$mod.undef" | while read -r sym; do
                        echo "layering: module $mod uses $sym, but it must" \
                                "not use ${prefix}* (docs/ARCHITECTURE.md," \
                                "Layers)" >&2
                        echo x >>"$tmp/failed"
                done || true
        done
done
[ -e "$tmp/failed" ] && status=1
exit $status
