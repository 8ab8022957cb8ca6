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
# symbol that crosses a layer the wrong way.
set -eu
nm=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "$@"; do
        mod=${spec%%=*}
        rest=${spec#*=}
        lib=${rest%%:*}
        "$nm" -g --defined-only "$lib" 2>/dev/null |
                awk 'NF == 3 { print $3 }' | sort -u >"$tmp/$mod.def"
done
status=0
for spec in "$@"; do
        mod=${spec%%=*}
        rest=${spec#*=}
        lib=${rest%%:*}
        rest=${rest#*:}
        allowed=${rest%%:*}
        forbidden=${rest#*:}
        "$nm" -u "$lib" 2>/dev/null | awk '{ print $NF }' | sort -u |
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
