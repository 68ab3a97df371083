#!/usr/bin/env bash
# The package check: RnnAd as a new user gets it. Packs every package in Release into a temporary folder;
# builds a fresh C# console project elsewhere that references the RnnAd package from that folder (no project
# reference; dependencies such as FSharp.Core and MathNet.Numerics from the registry configured on this
# machine), has it check the packages' contents, then train, save, load and sample; installs the tool rnnad
# (command rnnad) from the same folder and runs `rnnad train --epochs 1`, `rnnad sample` and `rnnad info`.
#
# One line per step ("ok" or "FAIL" with the end of its log); the last line is "packages: N passed, N failed",
# a step that could not run for want of an earlier one counting as failed. Exits non-zero if any failed.
# The packages under test are restored into a NuGet folder of their own (NUGET_PACKAGES), never the global
# one, so a stale copy of the same version cannot stand in for them.
# Usage: tests/package/check.sh            RNNAD_KEEP_PACKAGE_CHECK=1 keeps the temporary folder and says where.
set -uo pipefail
cd "$(dirname "$0")/../.."
repository=$(pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work=$(mktemp -d "${TMPDIR:-/tmp}/rnnad-package-check.XXXXXX")
cleanup() {
  if [ -n "${RNNAD_KEEP_PACKAGE_CHECK:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
feed=$work/feed            # the local package source: what `dotnet pack` wrote
consumer=$work/consumer    # the fresh console project
tools=$work/tools          # where the tool is installed (--tool-path)
run=$work/run              # where rnnad runs, so that what it writes stays in the temporary folder
logs=$work/logs
mkdir -p "$feed" "$consumer" "$tools" "$run" "$logs"
# Nothing above the temporary folder may configure the builds in it.
for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do echo "<Project />" > "$work/$f"; done

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
  local log="$logs/$name.log" start=$SECONDS
  if "$@" >"$log" 2>&1; then
    echo "ok   $name ($((SECONDS - start)) s)"
    sed -n 's/^| //p' "$log"
    done_ok[$name]=1
    passed=$((passed + 1))
  else
    local rc=$?
    echo "FAIL $name ($((SECONDS - start)) s, exit $rc); the end of its log ($log):"
    tail -n 30 "$log" | sed 's/^/     /'
    failed=$((failed + 1))
  fi
}
# Lines a step writes as "| text" are shown under its "ok" line.
say() { echo "| $*"; }

version=$(dotnet msbuild src/RnnAd.CSharp/RnnAd.CSharp.csproj -nologo -getProperty:Version 2>/dev/null | tr -d '\r')
# The commit the packages must name; none for a tree without git (not that of a repository around it).
commit=""
[ -e .git ] && commit=$(git rev-parse HEAD 2>/dev/null || true)
echo "== packages: version ${version:-?} (src/Directory.Build.props), commit ${commit:-none}, in $work"
[ -n "$version" ] || { echo "FAIL version: msbuild printed no version"; echo "packages: 0 passed, 1 failed"; exit 1; }

pack() {
  dotnet pack RnnAd.sln -c Release -nologo -o "$feed" || return 1
  say "$(cd "$feed" && ls -1 | sed 's/$/,/' | tr '\n' ' ' | sed 's/, $//')"
}
step pack - pack

# The registries this machine's NuGet configuration uses, read from outside the repository.
registries=$(cd "$work" && dotnet nuget list source --format short 2>/dev/null | sed -nE 's/^E +//p')

consumer_build() {
  [ -n "$registries" ] || { echo "no enabled package source in this machine's NuGet configuration"; return 1; }
  {
    echo '<?xml version="1.0" encoding="utf-8"?>'
    echo '<configuration>'
    echo '  <packageSources>'
    echo '    <clear />'
    echo "    <add key=\"rnnad-local\" value=\"$feed\" />"
    local i=0 url
    for url in $registries; do i=$((i + 1)); echo "    <add key=\"registry$i\" value=\"$url\" />"; done
    echo '  </packageSources>'
    echo '  <!-- The packages under test come from the local folder only; everything else from the registry. -->'
    echo '  <packageSourceMapping>'
    echo '    <packageSource key="rnnad-local"><package pattern="RnnAd.*" /><package pattern="rnnad" /></packageSource>'
    for i in $(seq 1 "$i"); do echo "    <packageSource key=\"registry$i\"><package pattern=\"*\" /></packageSource>"; done
    echo '  </packageSourceMapping>'
    echo '</configuration>'
  } > "$consumer/nuget.config"
  cat > "$consumer/Consumer.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="RnnAd.CSharp" Version="[$version]" />
  </ItemGroup>
</Project>
EOF
  cp "$repository"/tests/package/Consumer/*.cs "$consumer/"
  (cd "$consumer" && NUGET_PACKAGES="$work/nuget-packages" dotnet build -c Release -nologo --disable-build-servers) || return 1
  # The restored packages are the ones just packed, byte for byte.
  local id file
  for id in rnnad.csharp rnnad.fsharp; do
    file=$(ls "$feed" | grep -i "^$id\.$version\.nupkg$")
    [ "$(openssl dgst -sha512 -binary "$feed/$file" | base64 -w0)" = "$(cat "$work/nuget-packages/$id/$version/$id.$version.nupkg.sha512")" ] \
      || { echo "the restored $file is not the one in $feed"; return 1; }
  done
  say "restored RnnAd.CSharp $version and RnnAd.FSharp $version from $feed (same bytes), the rest from $registries"
}
step consumer-build pack consumer_build

inspect() {
  dotnet "$consumer/bin/Release/net10.0/Consumer.dll" inspect "$feed" "$version" $commit | sed 's/^/| /'
}
step inspect-packages consumer-build inspect

consumer_run() {
  dotnet "$consumer/bin/Release/net10.0/Consumer.dll" | sed 's/^/| /'
}
step consumer-train-save-load-sample consumer-build consumer_run

tool_install() {
  # Only the local folder as a source: the tool package carries everything it runs.
  printf '<?xml version="1.0" encoding="utf-8"?>\n<configuration><packageSources><clear /></packageSources></configuration>\n' > "$work/tool-nuget.config"
  NUGET_PACKAGES="$work/nuget-packages" dotnet tool install rnnad --tool-path "$tools" --add-source "$feed" --version "$version" \
    --configfile "$work/tool-nuget.config" || return 1
  [ -x "$tools/rnnad" ] || { echo "no $tools/rnnad after the install"; return 1; }
}
step tool-install pack tool_install

tool_train() {
  (cd "$run" && "$tools/rnnad" train --epochs 1 --hidden 32 --sample-length 40) | tee "$logs/train.out" || return 1
  grep -q "epoch  *1/1" "$logs/train.out" || { echo "no 'epoch 1/1' line"; return 1; }
  [ -s "$run/rnnad-model.safetensors" ] && [ -s "$run/rnnad-model.loss.png" ] || { echo "no checkpoint or loss curve in $run"; return 1; }
  say "$(grep -E "^loss " "$logs/train.out")"
}
step tool-train tool-install tool_train

tool_sample() {
  (cd "$run" && "$tools/rnnad" sample --model rnnad-model.safetensors --prompt Alice --length 40 --seed 3) > "$logs/sample.out" || return 1
  cat "$logs/sample.out"
  grep -q "^Alice" "$logs/sample.out" && [ "$(wc -m < "$logs/sample.out")" -ge 45 ] || { echo "expected 'Alice' and 40 characters"; return 1; }
  say "$(tr '\n' ' ' < "$logs/sample.out")"
}
step tool-sample tool-train tool_sample

tool_info() {
  (cd "$run" && "$tools/rnnad" info) | tee "$logs/info.out" || return 1
  grep -q "^rnnad $version\b" "$logs/info.out" || { echo "rnnad info does not start with 'rnnad $version'"; return 1; }
  grep -q "RnnAd.FSharp $version\b" "$logs/info.out" || { echo "rnnad info does not name RnnAd.FSharp $version"; return 1; }
  say "$(head -n 1 "$logs/info.out")"
}
step tool-info tool-install tool_info

echo "packages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
