# What several scripts in scripts/ share. Sourced (`. "$(dirname "$0")/lib.sh"`), not run;
# the functions expect the repository's root as the current directory.

# Configures build/dev the one way the quick starts and CI do, so that scripts/run.sh and
# scripts/test.sh share one build (a newcomer compiles once): warnings are errors, as in CI
# (VITRINE_WERROR: Vitrine's own code only). The setting stays in build/dev's cache until
# configured with -DVITRINE_WERROR=OFF; configuring with other settings would recompile everything.
configure_dev() {
  cmake --preset dev -DVITRINE_WERROR=ON >/dev/null
}

# Vitrine's own C++ files, one a line, relative to the root: the .cpp and .h files git tracks or
# would track (untracked ones it does not ignore); generated inputs under tests/fixtures/ stay
# as they are. Arguments replace the patterns: cxx_files '*.cpp'.
cxx_files() {
  (($#)) || set -- '*.cpp' '*.h'
  git ls-files --cached --others --exclude-standard -- "$@" | grep -v '^tests/fixtures/' || true
}

# Prints the sanitizer reports a run left in DIR (log_path=DIR/...), each under its file name,
# after the line FOUND; or the line NONE when there are none. Returns 1 when there are reports.
#   sanitizer_reports DIR FOUND NONE || status=1
sanitizer_reports() {
  local dir=$1 found=$2 none=$3 f
  if [ -z "$(ls -A "$dir")" ]; then
    echo "$none"
    return 0
  fi
  echo "$found"
  for f in "$dir"/*; do echo "== $f"; cat "$f"; done
  return 1
}
