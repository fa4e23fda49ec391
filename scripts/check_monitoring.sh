#!/usr/bin/env bash
# Checks the monitoring configuration: the Prometheus config and alert rules parse, the alert
# unit tests pass (each alert fires on synthetic trouble and not on a healthy series), and
# every Grafana panel's PromQL parses (as recording rules, which promtool checks).
set -euo pipefail
cd "$(dirname "$0")/.."
promtool check config infra/prometheus/prometheus.yml
(cd infra/prometheus && promtool test rules alerts_test.yml)
rules=$(mktemp --suffix .yml)
trap 'rm -f "$rules"' EXIT
python3 - "$rules" <<'PY'
import json, sys
lines = ["groups:", "  - name: grafana_panels", "    rules:"]
for path in ["infra/grafana/dashboards/payscope.json"]:
    for i, panel in enumerate(json.load(open(path))["panels"]):
        for target in panel["targets"]:
            lines.append(f"      - record: panel_{i}_{target['refId']}")
            lines.append("        expr: " + json.dumps(target["expr"]))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
promtool check rules "$rules"
