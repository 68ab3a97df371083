#!/usr/bin/env bash
# Runs every test suite of RnnAd -- the F# Expecto suite (a console program, since Expecto's
# `dotnet test` adapter is not served here) and the C# xunit suite -- and ends with one line
# "N passed, N failed" totalling both. Exits non-zero if any test failed or a suite did not run.
# Usage: tests/run-all.sh [Configuration]   (default Release)
set -uo pipefail
configuration="${1:-Release}"
cd "$(dirname "$0")/.."

strip() { sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g'; }

dotnet build RnnAd.sln -c "$configuration" -nologo -v quiet || { echo "0 passed, 1 failed"; exit 1; }

echo "== F# suite (Expecto)"
fs_log=$(mktemp)
dotnet run --project tests/RnnAd.FSharp.Tests -c "$configuration" --no-build -- --no-spinner 2>&1 | strip | tee "$fs_log" | grep -E "EXPECTO|\[ERR\]|Failed|failed" | grep -v "^\s*$" || true
fs_line=$(grep -E "tests run in" "$fs_log" | tail -n 1)
# Expecto groups thousands with commas ("1,064 passed"); drop them before reading the counts.
fs_line=$(echo "$fs_line" | sed -E 's/([0-9]),([0-9])/\1\2/g')
fs_passed=$(echo "$fs_line" | sed -nE 's/.* ([0-9]+) passed.*/\1/p')
fs_failed=$(echo "$fs_line" | sed -nE 's/.* ([0-9]+) failed, ([0-9]+) errored.*/\1+\2/p')
if [ -z "$fs_passed" ] || [ -z "$fs_failed" ]; then
  echo "the F# suite printed no summary; its log follows"; cat "$fs_log"; fs_passed=0; fs_failed=1
else
  fs_failed=$((fs_failed))
fi

echo "== C# suite (xunit)"
cs_log=$(mktemp)
dotnet test tests/RnnAd.CSharp.Tests -c "$configuration" --no-build -nologo 2>&1 | strip | tee "$cs_log" | grep -E "^\s*(Passed|Failed)!|\[FAIL\]|Error Message" || true
cs_line=$(grep -E "(Passed|Failed)! +- +Failed:" "$cs_log" | tail -n 1)
cs_passed=$(echo "$cs_line" | sed -nE 's/.*Passed: +([0-9]+).*/\1/p')
cs_failed=$(echo "$cs_line" | sed -nE 's/.*Failed: +([0-9]+),.*/\1/p')
if [ -z "$cs_passed" ] || [ -z "$cs_failed" ]; then
  echo "the C# suite printed no summary; its log follows"; cat "$cs_log"; cs_passed=0; cs_failed=1
fi

echo "F#: $fs_passed passed, $fs_failed failed; C#: $cs_passed passed, $cs_failed failed"
echo "$((fs_passed + cs_passed)) passed, $((fs_failed + cs_failed)) failed"
[ $((fs_failed + cs_failed)) -eq 0 ]
