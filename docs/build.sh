#!/usr/bin/env bash
# Builds RnnAd's documentation site and checks it in a browser.
#
# The site is docs/ (Markdown pages, literate F# scripts, the page template) turned into HTML by fsdocs
# (fsdocs-tool, pinned in .config/dotnet-tools.json), with an API reference generated from the XML docs of
# RnnAd.FSharp and RnnAd.CSharp. Steps, each one line "ok" or "FAIL" with the end of its log:
#   1. build the solution in Release (skipped with --no-build, when the caller just built it);
#   2. restore the site tool; install Chromium with apt-get when it is missing;
#   3. run every executed page (docs/tutorials/*.fsx, docs/seeds/*.fsx) as a script with `dotnet fsi`: a page
#      that throws fails here. (fsdocs 22.2.0 renders a snippet that throws as an empty output and exits 0, so
#      its own run cannot be the judge; check-site.py also fails a page with such an empty output.)
#   4. fsdocs build --eval --strict: every page runs again, and its outputs go into the HTML;
#   5. docs/check-site.py: every page in headless Chromium (loads, no console error, every internal link
#      resolves), one check per page, and a screenshot of the home page.
# The last line is "docs: N passed, N failed" (steps and pages); exits non-zero if anything failed.
#
# Usage: docs/build.sh [--output DIR] [--screenshot PNG] [--no-build] [--serve]
#   --output      where the site goes (default artifacts/docs-site, ignored by git); emptied first, so it must be
#                 new, empty or a site this script built
#   --screenshot  where the home page's screenshot goes (default artifacts/docs-site-home.png; a PNG, if it exists)
#   --serve       afterwards, serve the site at http://localhost:8901/ until interrupted
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

site=artifacts/docs-site
screenshot=artifacts/docs-site-home.png
build=true
serve=false
while [ $# -gt 0 ]; do
  case "$1" in
    --output) site=$2; shift 2 ;;
    --screenshot) screenshot=$2; shift 2 ;;
    --no-build) build=false; shift ;;
    --serve) serve=true; shift ;;
    *) echo "unknown option '$1'; usage: docs/build.sh [--output DIR] [--screenshot PNG] [--no-build] [--serve]"; echo "docs: 0 passed, 1 failed"; exit 2 ;;
  esac
done
site=$(realpath -m "$site")
screenshot=$(realpath -m "$screenshot")
# The site's folder is emptied before each build: refuse one that holds anything but a site built here, and the
# repository or a folder around it. The screenshot replaces only a PNG.
refuse() { echo "$1"; echo "docs: 0 passed, 1 failed"; exit 2; }
case "$(pwd -P)/" in "${site%/}"/*) refuse "--output $site would hold the repository; name a folder of its own" ;; esac
if [ -e "$site" ]; then
  [ -d "$site" ] || refuse "--output $site is not a folder"
  if [ -n "$(ls -A "$site")" ] && ! { [ -f "$site/index.html" ] && [ -f "$site/content/fsdocs-default.css" ]; }; then
    refuse "--output $site holds files that are not a site built by docs/build.sh; name an empty or new folder"
  fi
fi
case "$screenshot" in *.png) ;; *) refuse "--screenshot $screenshot: the name must end in .png" ;; esac
if [ -e "$screenshot" ] && [ "$(head -c 4 "$screenshot" | tail -c 3)" != "PNG" ]; then
  refuse "--screenshot $screenshot exists and is not a PNG; it would be overwritten"
fi
mkdir -p "$(dirname "$site")" "$(dirname "$screenshot")"

logs=$(mktemp -d "${TMPDIR:-/tmp}/rnnad-docs.XXXXXX")
trap 'rm -rf "$logs"' EXIT
passed=0
failed=0
declare -A done_ok
# step NAME NEEDS COMMAND...: runs COMMAND with its output in a log; NEEDS names an earlier step (or -).
step() {
  local name=$1 needs=$2
  shift 2
  if [ "$needs" != "-" ] && [ -z "${done_ok[$needs]:-}" ]; then
    echo "FAIL $name: not run, it needs '$needs'"
    failed=$((failed + 1))
    return
  fi
  local log="$logs/${name//\//_}.log" start=$SECONDS
  if "$@" >"$log" 2>&1; then
    echo "ok   $name ($((SECONDS - start)) s)"
    done_ok[$name]=1
    passed=$((passed + 1))
  else
    local rc=$?
    echo "FAIL $name ($((SECONDS - start)) s, exit $rc); the end of its log:"
    tail -n 40 "$log" | sed 's/^/     /'
    failed=$((failed + 1))
  fi
}
total_start=$SECONDS

if $build; then
  step build - dotnet build RnnAd.sln -c Release -nologo -v quiet
else
  done_ok[build]=1
fi
step tool-restore - dotnet tool restore

chromium_install() {
  command -v chromium >/dev/null && return 0
  # CI runs as root on Debian; elsewhere install chromium yourself.
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core
  command -v chromium >/dev/null
}
step chromium - chromium_install

# 3. Every executed page as a plain script; its pictures go to a scratch folder.
scratch=$logs/figures
pages=$(cd docs && ls tutorials/*.fsx seeds/*.fsx)
all_pages_ok=1
for page in $pages; do
  step "run ${page%.fsx}" build env RNNAD_DOCS_FIGURES="$scratch" dotnet fsi "docs/$page"
  [ -n "${done_ok[run ${page%.fsx}]:-}" ] || all_pages_ok=
done
[ -n "$all_pages_ok" ] && done_ok[pages]=1

# 4. The site. The collection name and root replace what fsdocs would guess from the folder's name.
# fsdocs keeps what it read from the projects in .fsdocs/ and does not notice when the properties change: start afresh.
# markdown-comments.props tells it that RnnAd.FSharp's /// comments are Markdown and RnnAd.CSharp's are XML.
fsdocs_build() {
  rm -rf "$site" .fsdocs
  RNNAD_DOCS_FIGURES="$site/figures" dotnet fsdocs build --input docs --output "$site" --clean --eval --strict \
    --projects src/RnnAd.FSharp/RnnAd.FSharp.fsproj src/RnnAd.CSharp/RnnAd.CSharp.csproj \
    --properties Configuration=Release "CustomBeforeMicrosoftCommonProps=$(pwd)/docs/markdown-comments.props" \
    --parameters root / fsdocs-collection-name RnnAd fsdocs-package-project-url / fsdocs-logo-link / || return 1
  # docs/ also holds this script, the checker and the props file: they are not pages. NuGet.config comes with
  # fsdocs' own content.
  rm -f "$site/build.sh" "$site/check-site.py" "$site/markdown-comments.props" "$site/NuGet.config"
  [ -f "$site/index.html" ] && [ -f "$site/reference/index.html" ] || { echo "no index.html or reference/index.html in $site"; return 1; }
}
step site pages fsdocs_build
if [ -n "${done_ok[site]:-}" ]; then
  echo "     $(find "$site" -name '*.html' | wc -l) pages, $(find "$site/reference" -name '*.html' | wc -l) of them API reference, in $site"
fi

# 5. The browser check: one check per page.
if [ -n "${done_ok[site]:-}" ] && [ -n "${done_ok[chromium]:-}" ]; then
  start=$SECONDS
  python3 docs/check-site.py "$site" --screenshot "$screenshot" | tee "$logs/browser.log"
  line=$(grep -E '^browser: [0-9]+ passed, [0-9]+ failed$' "$logs/browser.log" | tail -n 1)
  if [ -n "$line" ]; then
    read -r p f < <(echo "$line" | sed -E 's/^browser: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/')
    passed=$((passed + p)); failed=$((failed + f))
  else
    echo "FAIL browser: the check printed no summary"; failed=$((failed + 1))
  fi
  echo "     browser check: $((SECONDS - start)) s"
else
  echo "FAIL browser: not run, it needs 'site' and 'chromium'"; failed=$((failed + 1))
fi

echo "docs site built and checked in $((SECONDS - total_start)) s"
echo "docs: $passed passed, $failed failed"
if $serve && [ -f "$site/index.html" ]; then
  echo "serving $site at http://localhost:8901/ (Ctrl+C stops)"
  python3 -m http.server 8901 --bind 127.0.0.1 --directory "$site"
fi
[ "$failed" -eq 0 ]
