#!/usr/bin/env bash
# Sets up the Lean side of the prover:
#   1. installs elan (the Lean toolchain manager) into ~/.elan if it is missing,
#   2. installs the toolchain pinned in <project>/lean-toolchain,
#   3. downloads Mathlib's prebuilt .olean files (`lake exe cache get`; no hours-long Mathlib build),
#   4. builds the REPL (leanprover-community/repl) and the project,
#   5. builds strict mode's checker: comparator and lean4export (Lake packages pinned in lake-manifest.json)
#      and the landrun sandbox (a Go program, at LANDRUN_REV, when `go` is installed),
#   6. runs one theorem through the REPL as a smoke test.
#
# Usage: bash scripts/setup_lean.sh [PROJECT_DIR]      (default: $PROVER_LEAN_PROJECT or ./lean_project)
#        SKIP_SMOKE=1 bash scripts/setup_lean.sh       (skip step 6)
#        SKIP_STRICT=1 bash scripts/setup_lean.sh      (skip step 5: only lean.verify = "strict" needs it)
# Needs: curl (Mathlib's cache downloader, `lake exe cache get`, runs curl; wget is not enough), git, network
# access to github.com and Mathlib's cache, ~6 GB of disk.
# Safe to rerun: every step is skipped or incremental when already done.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT="${1:-${PROVER_LEAN_PROJECT:-$REPO/lean_project}}"
ELAN_HOME="${ELAN_HOME:-$HOME/.elan}"
export PATH="$ELAN_HOME/bin:$PATH"

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'setup_lean: error: %s\n' "$1" >&2
  [ $# -gt 1 ] && printf 'setup_lean: fix: %s\n' "$2" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

[ -d "$PROJECT" ] || die "no Lean project at $PROJECT" "pass the project directory, or run from a checkout that has lean_project/"
[ -f "$PROJECT/lakefile.toml" ] || [ -f "$PROJECT/lakefile.lean" ] || die "$PROJECT has no lakefile.toml / lakefile.lean"
[ -f "$PROJECT/lean-toolchain" ] || die "$PROJECT/lean-toolchain is missing" "pin a toolchain, e.g. echo leanprover/lean4:v4.24.0 > $PROJECT/lean-toolchain"
TOOLCHAIN="$(head -n1 "$PROJECT/lean-toolchain" | tr -d '[:space:]')"
VERSION="${TOOLCHAIN##*:}"
VERSION="${VERSION#v}"
have git || die "git is not installed" "install git (e.g. sudo apt-get install git)"
# Checked before minutes of installs: step 3 needs curl whatever installed elan.
have curl || die "curl is not installed; Mathlib's cache downloader (lake exe cache get) runs curl, wget is not enough" \
  "install curl (e.g. sudo apt-get install curl, or dnf install curl / brew install curl), then rerun"

net_hint="check the network / proxy (https_proxy) and rerun; behind no network, copy a prepared ~/.elan and $PROJECT/.lake from another machine"

# 1. elan ------------------------------------------------------------------------------------------
if have elan; then
  say "elan found: $(elan --version 2>/dev/null | head -n1)"
else
  say "installing elan into $ELAN_HOME"
  tmp="$(mktemp)"
  url="https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh"
  curl -sSfL "$url" -o "$tmp" || die "could not download elan from $url" "$net_hint"
  sh "$tmp" -y --no-modify-path --default-toolchain none >/dev/null || die "the elan installer failed" "see https://github.com/leanprover/elan"
  rm -f "$tmp"
  have elan || die "elan was installed but is not on PATH" "add $ELAN_HOME/bin to PATH"
fi

# 2. toolchain ------------------------------------------------------------------------------------
say "toolchain $TOOLCHAIN"
if ! elan toolchain list 2>/dev/null | grep -q "^${TOOLCHAIN}\b"; then
  elan toolchain install "$TOOLCHAIN" || die "could not install $TOOLCHAIN" "$net_hint"
fi
cd "$PROJECT"
got="$(lake --version 2>/dev/null | sed -n 's/.*Lean version \([0-9][^)]*\).*/\1/p' | head -n1)"
[ -n "$got" ] || die "lake does not run in $PROJECT" "elan toolchain install $TOOLCHAIN"
[ "$got" = "$VERSION" ] || die "lake runs Lean $got but $PROJECT/lean-toolchain pins $TOOLCHAIN" \
  "remove other lake/lean from PATH before $ELAN_HOME/bin, or run: elan override unset"

# 3. dependencies and Mathlib cache ---------------------------------------------------------------
free_kb="$(df -Pk "$PROJECT" | awk 'NR==2 {print $4}')"
if [ -n "$free_kb" ] && [ "$free_kb" -lt 6000000 ]; then
  say "warning: only $((free_kb / 1024)) MiB free in $PROJECT; Mathlib's cache needs about 6 GB"
fi
say "fetching dependencies (Mathlib, REPL) as pinned in lake-manifest.json"
lake exe cache get || die "could not fetch Mathlib's cache (lake exe cache get)" "$net_hint"

# 4. REPL and project ------------------------------------------------------------------------------
say "building the REPL"
if ! lake build REPL/repl; then
  say "lake build REPL/repl failed; building inside the REPL package instead"
  (cd .lake/packages/REPL && lake build repl) || die "could not build the REPL" \
    "check that the REPL's rev in lakefile.toml matches $TOOLCHAIN (tag v$VERSION)"
fi
REPL_BIN="$PROJECT/.lake/packages/REPL/.lake/build/bin/repl"
[ -x "$REPL_BIN" ] || die "the REPL binary is missing after the build ($REPL_BIN)"
repl_tc="$(head -n1 .lake/packages/REPL/lean-toolchain 2>/dev/null | tr -d '[:space:]')"
[ -z "$repl_tc" ] || [ "$repl_tc" = "$TOOLCHAIN" ] || die "the REPL is pinned to $repl_tc, the project to $TOOLCHAIN" \
  "set the REPL's rev to v$VERSION in $PROJECT/lakefile.toml, delete lake-manifest.json and rerun"
say "building the project (checks that Mathlib loads)"
lake build || die "lake build failed in $PROJECT (Mathlib cache incomplete or toolchain mismatch)" \
  "rerun: cd $PROJECT && lake exe cache get && lake build"

# 5. strict mode's checker (optional unless lean.verify = "strict") -------------------------------------
LANDRUN_REV="4008d905a5b401c6c1200464240c679301931d57"  # Zouuup/landrun v0.1.9
LANDRUN="$PROJECT/.lake/prover-tools/bin/landrun"
if [ "${SKIP_STRICT:-0}" != "1" ]; then
  say "building strict mode's checker (comparator, lean4export)"
  if ! lake build Comparator/comparator lean4export/lean4export; then
    say "warning: could not build comparator / lean4export: strict mode (lean.verify = strict) will not work"
  fi
  if [ -x "$LANDRUN" ] || have landrun; then
    say "landrun found"
  elif have go; then
    say "building the landrun sandbox (Go) at $LANDRUN_REV"
    tmpd="$(mktemp -d)"
    if git clone --quiet https://github.com/Zouuup/landrun "$tmpd/landrun" \
      && (cd "$tmpd/landrun" && git checkout --quiet "$LANDRUN_REV" && mkdir -p "$(dirname "$LANDRUN")" \
        && go build -o "$LANDRUN" ./cmd/landrun); then
      say "landrun built: $LANDRUN"
    else
      say "warning: could not build landrun: strict mode will not work ($net_hint)"
    fi
    rm -rf "$tmpd"
  else
    say "note: strict mode's sandbox (landrun) needs Go: install Go (https://go.dev/dl/) and rerun this script"
  fi
fi

# 6. smoke test -------------------------------------------------------------------------------------
if [ "${SKIP_SMOKE:-0}" != "1" ]; then
  say "smoke test: one theorem through the REPL (loading Mathlib takes a while)"
  req='{"cmd": "import Mathlib\ntheorem smoke (a b : ℕ) : a + b = b + a := by\n  omega"}'
  out="$(printf '%s\n\n' "$req" | timeout 900 lake env "$REPL_BIN" 2>&1)" || die "the REPL did not answer: $out"
  case "$out" in
    *'"env"'*) ;;
    *) die "unexpected REPL answer: $out" ;;
  esac
  case "$out" in
    *'"severity": "error"'*) die "the REPL reported an error on the smoke test: $out" ;;
  esac
fi

say "done: Lean $VERSION, Mathlib and the REPL are ready in $PROJECT"
say "check with: prover doctor"
