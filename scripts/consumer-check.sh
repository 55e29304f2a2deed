#!/usr/bin/env bash
# The package as a consumer meets it. Packs the tarball (after `npm run build`), lints it with
# publint and attw, installs it into a blank ESM TypeScript project in a temporary directory,
# compiles a program that uses the RegistrationManager and the mock PoETs with `strict` and
# `skipLibCheck: false`, runs it, loads the package through require(), and runs the CLI's bin.
#
# Offline: the tarball is unpacked into the project's node_modules, and the package's runtime
# dependencies (plus typescript and @types/node) are symlinked from this checkout's node_modules,
# so nothing is downloaded and better-sqlite3's native module is the one already built. Only the
# dependencies the package declares are linked: a declaration that needs a devDependency's types
# (say @types/better-sqlite3) fails to compile here.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
work="$(mktemp -d "${TMPDIR:-/tmp}/poet-client-consumer.XXXXXX")"
trap 'rm -rf "$work"' EXIT

[ -f dist/index.js ] || { echo "consumer-check: run 'npm run build' first" >&2; exit 1; }
tarball="$(npm pack --ignore-scripts --silent --pack-destination "$work")"
tarball="$work/$tarball"
echo "consumer-check: packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) kB)"

npx --no-install publint run "$tarball" --strict
npx --no-install attw "$tarball" --profile esm-only --format ascii --no-color

project="$work/project"
mkdir -p "$project/node_modules"
tar -xzf "$tarball" -C "$project/node_modules"
mv "$project/node_modules/package" "$project/node_modules/spacemesh-poet-client"
for dep in $(node -p 'Object.keys(require("./package.json").dependencies).join(" ")') typescript @types/node; do
  mkdir -p "$project/node_modules/$(dirname "$dep")"
  ln -s "$root/node_modules/$dep" "$project/node_modules/$dep"
done
cp scripts/consumer/main.ts scripts/consumer/root-only.ts scripts/consumer/require.cjs "$project/"
cat >"$project/package.json" <<'JSON'
{ "name": "consumer", "private": true, "type": "module" }
JSON
# The root entry point compiles with the ES and Node lib types alone. The testing entry point's
# declarations reach @connectrpc/connect's, which use the DOM lib's fetch types (HeadersInit), so a
# test program adds "DOM" to "lib" (docs/testing.md).
cat >"$project/tsconfig.root.json" <<'JSON'
{ "extends": "./tsconfig.json", "compilerOptions": { "lib": ["ES2023"] }, "files": ["root-only.ts"] }
JSON
cat >"$project/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2023", "DOM"],
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "noUncheckedIndexedAccess": true,
    "skipLibCheck": false,
    "types": ["node"],
    "outDir": "out"
  },
  "files": ["main.ts"]
}
JSON
(
  cd "$project"
  node node_modules/typescript/bin/tsc -p tsconfig.root.json
  node node_modules/typescript/bin/tsc -p tsconfig.json
  node out/root-only.js
  node out/main.js
  node require.cjs
  version="$(node node_modules/spacemesh-poet-client/dist/cli/main.js --version)"
  echo "consumer-check: the bin answers: $version"
)
echo "consumer-check: ok"
