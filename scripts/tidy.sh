#!/usr/bin/env bash
# clang-tidy over Vitrine's own .cpp files with the curated checks of .clang-tidy; exits 1 on
# any finding (WarningsAsErrors: '*'), printing each one.
#   scripts/tidy.sh                the files that do not parse <torch/torch.h> (what CI runs)
#   scripts/tidy.sh --all          every file. clang-tidy 14 (Debian 12) cannot parse LibTorch
#                                  1.13's headers with GCC 12's libstdc++ (`is_destructible
#                                  <c10::IValue>` fails in ivalue_inl.h), so the ~65 sources that
#                                  include torch/torch.h end in errors: --all is for a newer clang.
#   scripts/tidy.sh FILE...        these files only
#   --preset NAME                  the build whose compile_commands.json is used (default dev;
#                                  configured here if it is not yet)
#   --checks='...'                 other checks for this run (e.g. 'clang-analyzer-*')
# JOBS (default: the number of cores) files run at once.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROOT=$PWD
preset=dev all=0 checks="" files=()
while (($#)); do
  case "$1" in
    --all) all=1 ;;
    --preset) preset=$2; shift ;;
    --preset=*) preset=${1#--preset=} ;;
    --checks=*) checks=${1#--checks=} ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "tidy.sh: unknown option $1" >&2; exit 2 ;;
    *) files+=("$(realpath "$1")") ;;
  esac
  shift
done
TIDY=$(command -v clang-tidy-14 || command -v clang-tidy || true)
[ -n "$TIDY" ] || { echo "tidy.sh: clang-tidy not found (apt-get install clang-tidy)" >&2; exit 2; }
BUILD=build/$preset
[ -f "$BUILD/compile_commands.json" ] || cmake --preset "$preset" >/dev/null

# The compile commands without CMake's precompiled header: clang cannot read GCC's .gch, and
# the sources that need torch include it themselves (cmake/TorchPch.cmake).
DB=$(mktemp -d /tmp/vitrine-tidy.XXXXXX)
trap 'rm -rf "$DB"' EXIT
python3 - "$BUILD/compile_commands.json" "$DB/compile_commands.json" <<'EOF'
import json, re, sys
entries = json.load(open(sys.argv[1]))
for e in entries:
    e["command"] = re.sub(r" -Winvalid-pch -include \S+cmake_pch\.hxx", "", e["command"])
json.dump(entries, open(sys.argv[2], "w"), indent=0)
EOF

# Which files: Vitrine's own .cpp files (lib.sh) that the build compiles, optionally only those that
# do not parse torch.
if ((${#files[@]} == 0)); then
  cxx_files '*.cpp' >"$DB/ours"
  mapfile -t files < <(python3 - "$DB/compile_commands.json" "$ROOT" "$all" "$DB/ours" <<'EOF'
import json, os, re, sys
db, root, every = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3] == "1"
ours = set(open(sys.argv[4]).read().split("\n"))
heavy = re.compile(r'^\s*#\s*include\s*<(torch/torch\.h|torch/all\.h|torch/nn|torch/optim|torch/csrc/|torch/script\.h|ATen/ATen\.h)', re.M)
include = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
memo = {}
def reaches_torch(path):
    if path in memo:
        return memo[path]
    memo[path] = False
    text = open(path, errors="replace").read()
    result = bool(heavy.search(text))
    for name in include.findall(text):
        if result:
            break
        for base in (os.path.dirname(path), root, os.path.join(root, "tests")):
            candidate = os.path.join(base, name)
            if os.path.isfile(candidate):
                result = reaches_torch(os.path.normpath(candidate))
                break
    memo[path] = result
    return result
seen = set()
for e in db:
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    rel = os.path.relpath(f, root)
    if rel not in ours or rel in seen:
        continue
    seen.add(rel)
    if every or not reaches_torch(f):
        print(f)
EOF
  )
fi
echo "tidy.sh: ${#files[@]} files, $BUILD, $("$TIDY" --version | sed -n 's/.*LLVM version \([0-9.]*\).*/clang-tidy \1/p')"
OUT=$DB/out
mkdir "$OUT"
start=$(date +%s)
extra=()
[ -z "$checks" ] || extra+=("--checks=$checks")
# One clang-tidy per file; a file's findings go to its own log, so parallel runs do not mix.
printf '%s\n' "${files[@]}" | xargs -d '\n' -P "${JOBS:-$(nproc)}" -I{} sh -c \
  'f="$1"; shift; "$@" "$f" > "'"$OUT"'/$(echo "$f" | tr / _).log" 2>&1 || true' _ {} \
  "$TIDY" -p "$DB" --quiet --extra-arg=-Wno-unknown-warning-option "${extra[@]}"
status=0
for log in "$OUT"/*.log; do
  if grep -qE '(warning|error): ' "$log"; then
    grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$log"
    status=1
  fi
done
findings=$(cat "$OUT"/*.log | grep -cE '(warning|error): ' || true)
echo "tidy.sh: ${#files[@]} files in $(($(date +%s) - start)) s, $findings findings"
exit $status
