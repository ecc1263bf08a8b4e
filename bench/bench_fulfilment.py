# ruff: noqa: F821
# Fulfilment benchmark, run by bench/run.sh inside `odoo-bin shell` (where `env` exists).
#
# Confirms (and so allocates) batches of orders of 3 lines over 3 warehouses, once with
# Odoo's own single-warehouse flow and once with the split_by_stock allocation engine,
# then ships them; prints orders/second and SQL queries per order for each phase at two
# batch sizes, so that one sees the ratio between the two flows and that the queries
# per order do not grow with the batch size.
#
# OMS_BENCH_ORDERS   the large batch (default 200; the figure is 1000)
# OMS_BENCH_SMALL    the small batch (default a quarter of the large one, at least 10)
# Batch sizes are best multiples of 10 (the order patterns cycle every 10 orders).
# Everything is rolled back at the end.
import os
import random
import time

from odoo import Command

LARGE = int(os.environ.get("OMS_BENCH_ORDERS", "200"))
SMALL = int(os.environ.get("OMS_BENCH_SMALL", str(max(LARGE // 4, 10))))
LINES_PER_ORDER = 3
# orders cycle through these many line patterns, so that both batch sizes (multiples
# of it) hold the same mix of orders that one warehouse ships and orders that split
PATTERNS = 10
RESULTS = "bench/results/fulfilment.txt"


def setup(env):
    company = env.company
    warehouse_model = env["stock.warehouse"]
    warehouses = warehouse_model.search([("company_id", "=", company.id)], order="sequence, id")
    for code in ("BW2", "BW3")[: max(0, 3 - len(warehouses))]:
        warehouses |= warehouse_model.create(
            {"name": f"Bench {code}", "code": code, "company_id": company.id}
        )
    warehouses = warehouses[:3]
    for sequence, warehouse in enumerate(warehouses, start=1):
        warehouse.sequence = sequence * 10
    products = env["product.product"].create(
        [
            {
                "name": f"Bench product {index}",
                "type": "consu",
                "is_storable": True,
                "list_price": 10.0 + index,
                "invoice_policy": "order",
            }
            for index in range(9)
        ]
    )
    quant = env["stock.quant"]
    # products 0-2 everywhere, 3-5 only in the 1st and 2nd, 6-8 only in the 3rd
    for index, product in enumerate(products):
        if index < 3:
            stocked = warehouses
        elif index < 6:
            stocked = warehouses[:2]
        else:
            stocked = warehouses[2:]
        for warehouse in stocked:
            quant._update_available_quantity(product, warehouse.lot_stock_id, 100000)
    partner = env["res.partner"].create({"name": "Bench Customer", "email": "bench@example.com"})
    return company, warehouses, products, partner


def make_orders(env, count, warehouse, products, partner):
    rng = random.Random(42)
    patterns = [
        [(product, rng.randint(1, 3)) for product in rng.sample(list(products), LINES_PER_ORDER)]
        for _p in range(PATTERNS)
    ]
    return env["sale.order"].create(
        [
            {
                "partner_id": partner.id,
                "warehouse_id": warehouse.id,
                "order_line": [
                    Command.create({"product_id": product.id, "product_uom_qty": qty})
                    for product, qty in patterns[index % PATTERNS]
                ],
            }
            for index in range(count)
        ]
    )


def measure(env, func):
    env.flush_all()
    env.invalidate_all()
    queries = env.cr.sql_log_count
    start = time.perf_counter()
    func()
    env.flush_all()
    return time.perf_counter() - start, env.cr.sql_log_count - queries


def run(env):
    company, warehouses, products, partner = setup(env)
    rows = []
    for policy in ("single_warehouse", "split_by_stock"):
        company.oms_allocation_policy = policy
        for size in (SMALL, LARGE):
            # the same orders for both flows and both sizes (same patterns)
            orders = make_orders(env, size, warehouses[0], products, partner)
            confirm_s, confirm_q = measure(env, orders.action_confirm)
            shipments_per_order = len(orders.picking_ids) / size
            shipments = orders.picking_ids.filtered(
                lambda p: p.picking_type_code == "outgoing" and p.state == "assigned"
            )
            ship_s, ship_q = measure(env, shipments.action_oms_ship)
            shipped = sum(1 for o in orders if o.oms_state == "shipped")
            rows.append(
                {
                    "policy": policy,
                    "orders": size,
                    "confirm_ops": size / confirm_s,
                    "confirm_qpo": confirm_q / size,
                    "ship_ops": size / ship_s,
                    "ship_qpo": ship_q / size,
                    "shipments": shipments_per_order,
                    "shipped": shipped,
                    "allocations": len(orders.oms_allocation_ids),
                }
            )
    header = (
        f"{'flow':<17}{'orders':>7}{'confirm o/s':>13}{'confirm q/o':>13}"
        f"{'ship o/s':>10}{'ship q/o':>10}{'shipm./order':>14}{'shipped':>9}"
    )
    lines = [
        f"Fulfilment benchmark: {LINES_PER_ORDER} lines per order, {len(warehouses)} "
        f"warehouses, batches of {SMALL} and {LARGE} orders",
        header,
        "-" * len(header),
    ]
    for row in rows:
        lines.append(
            f"{row['policy']:<17}{row['orders']:>7}{row['confirm_ops']:>13.1f}"
            f"{row['confirm_qpo']:>13.1f}{row['ship_ops']:>10.1f}{row['ship_qpo']:>10.1f}"
            f"{row['shipments']:>14.2f}{row['shipped']:>9}"
        )
    by_key = {(row["policy"], row["orders"]): row for row in rows}
    for size in (SMALL, LARGE):
        single, split = by_key["single_warehouse", size], by_key["split_by_stock", size]
        lines.append(
            f"{size} orders: split_by_stock / single_warehouse confirm time "
            f"{single['confirm_ops'] / split['confirm_ops']:.2f}x, "
            f"queries {split['confirm_qpo'] / single['confirm_qpo']:.2f}x"
        )
    for policy in ("single_warehouse", "split_by_stock"):
        small, large = by_key[policy, SMALL], by_key[policy, LARGE]
        lines.append(
            f"{policy}: confirm queries/order {small['confirm_qpo']:.1f} at {SMALL} orders, "
            f"{large['confirm_qpo']:.1f} at {LARGE} orders"
        )
    report = "\n".join(lines)
    print(report)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w", encoding="utf-8") as handle:
        handle.write(report + "\n")


try:
    run(env)
finally:
    env.cr.rollback()
