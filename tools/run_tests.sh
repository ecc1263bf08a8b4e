#!/usr/bin/env bash
# Fresh database, install the addon (and payment_demo, the provider the tests pay with),
# run the whole suite with Odoo's test runner, print the counts, drop the database.
# Usage: tools/run_tests.sh ADDON [TEST_TAGS]   (called by `make test`)
set -uo pipefail
ADDON=${1:?addon name}
TAGS=${2:-/$ADDON}
: "${ODOO_HOME:?}" "${PY:?}" "${ADDONS_PATH:?}" "${DATA_DIR:?}"
DB_HOST=${DB_HOST:-127.0.0.1} DB_PORT=${DB_PORT:-5432} DB_USER=${DB_USER:-root}
DB="${TEST_DB:-oms_test_$$_$(date +%s)}"
LOG_DIR=.test-logs; mkdir -p "$LOG_DIR"; LOG="$LOG_DIR/$DB.log"

cleanup() { dropdb --if-exists -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" "$DB" >/dev/null 2>&1; }
trap cleanup EXIT
cleanup
echo "Testing $ADDON on fresh database $DB (log: $LOG)"
PYTHONPATH="$ODOO_HOME" "$PY" "$ODOO_HOME/odoo-bin" \
  --addons-path="$ADDONS_PATH" --data-dir="$DATA_DIR" \
  --db_host="$DB_HOST" --db_port="$DB_PORT" --db_user="$DB_USER" \
  -d "$DB" -i "$ADDON,payment_demo" --without-demo=all \
  --test-enable --test-tags "$TAGS" --stop-after-init \
  --http-port="${TEST_HTTP_PORT:-8079}" --log-level=test --workers=0 --max-cron-threads=0 \
  >"$LOG" 2>&1
rc=$?

# Odoo prints "N failed, M error(s) of T tests" per test phase (at install, post install).
read -r total failed errors < <(grep -oE '[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests' "$LOG" |
  awk '{f+=$1; e+=$3; t+=$6} END {print t+0, f+0, e+0}')
grep -E ' (ERROR|CRITICAL) ' "$LOG" | grep -v 'odoo.addons.base.models.ir_cron' | head -200
bad=$((failed + errors))
passed=$((total > bad ? total - bad : 0))
echo
echo "$passed passed, $bad failed"
if [ "$rc" -ne 0 ] || [ "$bad" -ne 0 ] || [ "$total" -eq 0 ] || grep -qE ' (ERROR|CRITICAL) ' "$LOG"; then
  [ "$total" -eq 0 ] && echo "No test ran: see $LOG" >&2
  tail -n 40 "$LOG" >&2
  echo "FAILED (odoo exit code $rc)" >&2
  exit 1
fi
echo "OK"
