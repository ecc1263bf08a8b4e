#!/usr/bin/env bash
# Benchmarks: a fresh database with the addon (and payment_demo), then every bench/bench_*.py
# (or the ones named as arguments) run in `odoo-bin shell`, where `env` is the admin environment.
# Each script prints its own report; results also land in bench/results/ (git-ignored).
# Usage: make bench  |  bench/run.sh bench/bench_fulfilment.py
set -euo pipefail
: "${ODOO_HOME:?}" "${PY:?}" "${ADDONS_PATH:?}" "${DATA_DIR:?}"
DB_HOST=${DB_HOST:-127.0.0.1} DB_PORT=${DB_PORT:-5432} DB_USER=${DB_USER:-root}
DB="${BENCH_DB:-oms_bench_$$}"
mkdir -p bench/results
ODOO=(env PYTHONPATH="$ODOO_HOME" "$PY" "$ODOO_HOME/odoo-bin" --addons-path="$ADDONS_PATH"
      --data-dir="$DATA_DIR" --db_host="$DB_HOST" --db_port="$DB_PORT" --db_user="$DB_USER" -d "$DB")
trap 'dropdb --if-exists -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" "$DB" >/dev/null 2>&1' EXIT
dropdb --if-exists -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" "$DB" >/dev/null 2>&1 || true
echo "Creating $DB…"
"${ODOO[@]}" -i nextchapter_oms,payment_demo --without-demo=all --stop-after-init --log-level=warn
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(bench/bench_*.py)
for script in "${scripts[@]}"; do
  [ -f "$script" ] || continue
  echo "== $script"
  # the subcommand goes right after odoo-bin (indices 0-3: env, PYTHONPATH, python, odoo-bin)
  "${ODOO[@]:0:4}" shell "${ODOO[@]:4}" --no-http --log-level=warn < "$script"
done
