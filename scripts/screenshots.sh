#!/usr/bin/env bash
# Drives the real window under Xvfb through its main views and writes the pictures README
# shows (docs/*.png), so they can be regenerated after any UI change:
#   docs/screenshot.png        the map as the main view, 1920x1080, demo photos
#   docs/inspector.png         the Inspector as the main view (Ctrl+2)
#   docs/welcome.png           the first-run page (no data set)
#   docs/training.png          40 s into a training run started with Ctrl+Return
#   docs/dark.png              the dark theme
#   docs/audit.png             the Audit panel after Run → Audit Data Set (Ctrl+Shift+A)
#   docs/map-scores.png        the map coloured by class-token attention entropy (remembered
#                              colouring), the range filter from 0.75 up, at 1600x1000
#   docs/compare.png           Run → Compare With… (Ctrl+Shift+K) → Model or Checkpoint File…: the
#                              AugReg ViT-Ti/16 before fine-tuning, embedded by the panel, its map
#                              aligned beside the main one, one image picked in the list
# With --check DIR it also writes the same views at 1366x768 and at a scale of 2
# (3840x2160) into DIR, for looking at, not for README.
#   scripts/screenshots.sh [--check DIR]
# Needs a build (build/release, else build/dev), xvfb-run, xdotool and ImageMagick's import.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK_DIR=""
if [ "${1:-}" = "--check" ]; then CHECK_DIR=$2; mkdir -p "$CHECK_DIR"; fi
APP=build/release/app/vitrine
[ -x "$APP" ] || APP=build/dev/app/vitrine
[ -x "$APP" ] || { echo "screenshots: build Vitrine first (scripts/run.sh or cmake --build --preset dev)" >&2; exit 1; }
for tool in xvfb-run xdotool import convert; do
  command -v $tool >/dev/null || { echo "screenshots: needs $tool (apt-get install xvfb xdotool imagemagick)" >&2; exit 1; }
done
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
WAIT=${VITRINE_SCREENSHOT_WAIT:-35}   # seconds for the demo set to embed and the map to appear

# shoot SIZE OUT_PREFIX THEME [FOLDER] [SCALE]: one window session, several pictures.
shoot() {
  local size=$1 prefix=$2 theme=$3 folder=${4:-} scale=${5:-1}
  local config
  config=$(mktemp -d)            # a first start each time: settings from nowhere
  mkdir -p "$config/Vitrine"
  printf '[ui]\ntheme=%s\n' "$theme" > "$config/Vitrine/Vitrine.conf"
  XDG_CONFIG_HOME=$config QT_SCALE_FACTOR=$scale xvfb-run -a -s "-screen 0 ${size}x24" bash -c "
    '$APP' $folder >/dev/null 2>&1 &
    sleep $WAIT
    import -window root '${prefix}-map.png'
    id=\$(xdotool search --name Vitrine | tail -1)
    xdotool windowfocus \$id; sleep 1
    if [ -n '${AUDIT:-}' ]; then xdotool key --window \$id ctrl+shift+a; sleep 8; import -window root '${prefix}-audit.png'; fi
    if [ -n '${COMPARE:-}' ]; then
      # keydown/keyup: 'key --window' repeated the k into the file dialog at 1920x1080
      xdotool keydown ctrl keydown shift key k keyup shift keyup ctrl; sleep 2
      xdotool key Down Return; sleep 4     # the menu's first entry: Model or Checkpoint File…
      xdotool type --delay 20 '${COMPARE:-}'; xdotool key Return; sleep ${COMPARE_WAIT:-60}
      # COMPARE_PICK="X Y": an image in the list to click (both maps ring it)
      if [ -n '${COMPARE_PICK:-}' ]; then xdotool mousemove ${COMPARE_PICK:-} click 1; sleep 3; fi
      import -window root '${prefix}-compare.png'
    fi
    xdotool key --window \$id ctrl+2; sleep 6
    import -window root '${prefix}-inspector.png'
    xdotool key --window \$id ctrl+1; sleep 1
    if [ -n '${TRAIN:-}' ]; then xdotool key --window \$id ctrl+Return; sleep 40; import -window root '${prefix}-training.png'; fi
    kill %1
  "
  rm -rf "$config"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The attention-statistics colouring with a range: typed into the range's first box, whose
# place at 1600x1000 is fixed by the layout.
config=$(mktemp -d); mkdir -p "$config/Vitrine"
printf '[map]\ncolourBy=class-token attention entropy\n' > "$config/Vitrine/Vitrine.conf"
XDG_CONFIG_HOME=$config xvfb-run -a -s "-screen 0 1600x1000x24" bash -c "
  '$APP' >/dev/null 2>&1 &
  sleep $((WAIT + 10))
  xdotool mousemove 508 160 click --repeat 3 1; sleep 0.3; xdotool type 0.75; xdotool key Return; sleep 1
  import -window root docs/map-scores.png
  kill %1
"
rm -rf "$config"
mkdir -p "$tmp/empty"
AUDIT=1 TRAIN=1 shoot 1920x1080 "$tmp/light" system
# What the Compare view compares with: the model before fine-tuning.
COMPARE="$PWD/resources/models/vit-tiny-16-augreg.safetensors" shoot 1920x1080 "$tmp/compare" system
shoot 1920x1080 "$tmp/dark" dark
WAIT=5 shoot 1920x1080 "$tmp/welcome" system "$tmp/empty"
# README's pictures, at 1600 pixels wide (readable, and small in the repository).
for pair in "light-map:screenshot" "light-inspector:inspector" "light-training:training" "dark-map:dark" "welcome-map:welcome" "light-audit:audit" "compare-compare:compare"; do
  convert "$tmp/${pair%%:*}.png" -resize 1600x "docs/${pair##*:}.png"
done
echo "screenshots: wrote docs/map-scores.png docs/screenshot.png docs/inspector.png docs/training.png docs/dark.png docs/welcome.png docs/audit.png docs/compare.png"
if [ -n "$CHECK_DIR" ]; then
  shoot 1366x768 "$CHECK_DIR/1366x768" system
  shoot 3840x2160 "$CHECK_DIR/3840x2160-scale2" system "" 2
  echo "screenshots: wrote the 1366x768 and 2x views to $CHECK_DIR"
fi
