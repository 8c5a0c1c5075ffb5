#!/usr/bin/env bash
# clang-format (the repository's .clang-format) over Vitrine's C++ sources.
#   scripts/format.sh                 reformat every .cpp/.h of Vitrine's (scripts/lib.sh: cxx_files) in place
#   scripts/format.sh --check         change nothing; list what would change, exit 1 if anything would
#   scripts/format.sh --since REV     only the lines changed since REV (git clang-format): in place,
#                                     or with --check, fail if they are not formatted
#   scripts/format.sh [--check] FILE...   these files only
# CI (.ci/run) runs --check before it builds; --since main formats just what a branch touched.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
check=0 since="" files=()
while (($#)); do
  case "$1" in
    --check) check=1 ;;
    --since) since=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    -*) echo "format.sh: unknown option $1" >&2; exit 2 ;;
    *) files+=("$1") ;;
  esac
  shift
done
FORMAT=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$FORMAT" ] || { echo "format.sh: clang-format not found (apt-get install clang-format)" >&2; exit 2; }

if [ -n "$since" ]; then
  GCF=$(command -v git-clang-format-14 || command -v git-clang-format)
  if ((check)); then
    out=$("$GCF" --binary "$FORMAT" --diff "$since" -- '*.cpp' '*.h' || true)
    if [ -z "$out" ] || [[ $out == "no modified files to format" ]] || [[ $out == "clang-format did not modify any files" ]]; then
      echo "format.sh: the lines changed since $since are formatted"
      exit 0
    fi
    echo "$out"
    echo "format.sh: the lines above, changed since $since, are not formatted: run scripts/format.sh --since $since" >&2
    exit 1
  fi
  exec "$GCF" --binary "$FORMAT" -f "$since" -- '*.cpp' '*.h'
fi

((${#files[@]})) || mapfile -t files < <(cxx_files)
if ((check)); then
  bad=()
  for f in "${files[@]}"; do
    "$FORMAT" --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf '  %s\n' "${bad[@]}"
    echo "format.sh: ${#bad[@]} of ${#files[@]} files are not formatted (scripts/format.sh fixes them; scripts/format.sh FILE for one)" >&2
    exit 1
  fi
  echo "format.sh: ${#files[@]} files formatted"
  exit 0
fi
printf '%s\0' "${files[@]}" | xargs -0 -n 20 "$FORMAT" --style=file -i
echo "format.sh: formatted ${#files[@]} files"
