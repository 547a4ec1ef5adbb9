#!/bin/bash
# tests/cli/monitoring.sh — the monitoring kit in scripts/monitoring/:
# Prometheus alerting rules that promtool accepts and whose unit tests
# pass, a Grafana dashboard that is JSON of the expected shape, both
# naming only series (and label values) that `risk-stat --prometheus`
# really prints, and all of it installed by make install.
. "$(dirname "$0")/../lib.sh"

K=$ROOT/scripts/monitoring
RULES=$K/risk-alerts.yml
DASH=$K/risk-dashboard.json

if ! command -v promtool >/dev/null; then
	skip "promtool not installed (apt-get install prometheus)"
else
	run promtool check rules "$RULES"
	expect_rc 0
	expect_out_re 'SUCCESS: [0-9]+ rules found'
	# each alert fires on its figures, after its `for`, and not before
	run sh -c 'cd "$1" && promtool test rules risk-alerts.test.yml' sh "$K"
	expect_rc 0
	expect_out_re 'SUCCESS'
	# the unit test does test: an alert whose threshold moved fails it
	mkdir -p "$T/k"
	sed 's/risk_queue_oldest_due_seconds) > 600/risk_queue_oldest_due_seconds) > 6000/' \
	    "$RULES" >"$T/k/risk-alerts.yml"
	cp "$K/risk-alerts.test.yml" "$T/k/"
	run sh -c 'cd "$1" && promtool test rules risk-alerts.test.yml' sh "$T/k"
	expect "a broken alert fails its unit test" [ "$rc" -ne 0 ]
	expect_err_re 'alertname: RiskQueueFallingBehind'
fi

# The four alerts the operators asked for are there.
for a in RiskSourceDown RiskCredentialsRejected RiskDeadLettersGrowing \
    RiskQueueFallingBehind; do
	expect "alert $a" grep -q "alert: $a\$" "$RULES"
done

# The dashboard: JSON, panels with unique ids and a query each.
run jq -e '(.panels | length > 0)
    and ([.panels[].id] | length == (unique | length))
    and all(.panels[]; (.targets | length > 0)
        and all(.targets[]; (.expr | type == "string") and (.expr | length > 0))
        and (.gridPos.w > 0) and (.title | length > 0))
    and (.templating.list | map(.name) | index("datasource") != null)' "$DASH"
expect_rc 0
expect_out true

# Every series the kit names, with every label value it selects, is one
# that risk-stat prints: run a real drain (so the last-drain figures
# exist) and read the Prometheus text.
standin --latency 0
run risk-enqueue C1 C2
run risk-drain
run risk-stat --prometheus
expect_rc 0
grep -v '^#' "$T/out" >"$T/prom"
{ jq -r '.. | .expr? // empty' "$DASH"; sed -n 's/^ *expr: //p' "$RULES"; } |
    grep -o 'risk_[a-z_]*\({[^}]*}\)\?' | sed 's/instance=~"\$instance",\?//; s/{}$//' |
    sort -u >"$T/used"
expect "the kit names some series" [ -s "$T/used" ]
while read -r sel; do
	name=${sel%%\{*}
	if ! grep -q "^$name[{ ]" "$T/prom"; then
		LAST="$sel"; fail "risk-stat --prometheus prints no $name"
		continue
	fi
	case $sel in *\{*) ;; *) pass "$name"; continue ;; esac
	lv=${sel#*\{}; lv=${lv%\}}
	if grep -q "^$name{.*$lv" "$T/prom"; then pass "$sel"
	else LAST="$sel"; fail "risk-stat --prometheus prints no $sel"; fi
done <"$T/used"

# make install puts the kit under $PREFIX/share/risk/monitoring
DEST=$T/inst
run make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr/local
expect_rc 0
for f in risk-alerts.yml risk-alerts.test.yml risk-dashboard.json; do
	expect "installed $f" [ -f "$DEST/usr/local/share/risk/monitoring/$f" ]
done

finish
