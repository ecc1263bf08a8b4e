# Refund benchmark, run inside `odoo-bin shell` by bench/run.sh (where `env` exists):
#   bench/run.sh bench/bench_refunds.py
#   OMS_BENCH_REFUNDS=2000 bench/run.sh bench/bench_refunds.py    (size option: the 2,000)
#
# N refunds (default 200, to stay within ~5 minutes on a 2-core machine) of paid
# payment_demo orders, made two ways in the same run:
# 1. OMS: N credit notes posted (batch refund mode), then the refund batch cron
#    (`oms.refund._cron_process_refunds`) executes the queued refunds: provider refund,
#    outbound payment reconciled with the credit note, customer e-mail, order chatter.
# 2. Odoo: the same N refunds made one by one through Odoo's own refund wizard
#    (`payment.refund.wizard` on the payment), each refund transaction post-processed as
#    Odoo's payment cron would (its outbound payment created).
# Reported: refunds per second and SQL queries per refund for the execution part of each.

import os
import time

from odoo import Command, fields

SIZE = int(os.environ.get("OMS_BENCH_REFUNDS", "200"))
REFUNDS_PER_ORDER = 10
UNIT_PRICE = 10.0

env = env  # noqa: F821 - given by odoo-bin shell
cr = env.cr
company = env.company


def log(message):
    print(message, flush=True)


def prepare_provider():
    bank_journal = env["account.journal"].search(
        [("type", "=", "bank"), ("company_id", "=", company.id)], limit=1
    )
    provider = env.ref("payment.payment_provider_demo").sudo()
    provider.write({"state": "test", "journal_id": bank_journal.id})
    return provider


def paid_orders(count, provider, partner, product, label):
    """``count`` confirmed orders of REFUNDS_PER_ORDER x UNIT_PRICE, paid online with
    payment_demo (done transaction with its payment) and invoiced."""
    started = time.time()
    orders = env["sale.order"].create(
        [
            {
                "partner_id": partner.id,
                "order_line": [
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": REFUNDS_PER_ORDER,
                            "price_unit": UNIT_PRICE,
                        }
                    )
                ],
            }
            for _index in range(count)
        ]
    )
    orders.action_confirm()
    method = env.ref("payment_demo.payment_method_demo")
    txs = env["payment.transaction"].create(
        [
            {
                "provider_id": provider.id,
                "payment_method_id": method.id,
                "amount": order.amount_total,
                "currency_id": order.currency_id.id,
                "partner_id": partner.id,
                "reference": f"BENCH-{label}-{order.name}",
                "operation": "online_direct",
                "sale_order_ids": [Command.set(order.ids)],
            }
            for order in orders
        ]
    )
    txs._set_done()
    # the payments of the transactions, as Odoo's post-processing creates them (without its
    # order confirmation e-mails, which render PDFs and are not what is measured here)
    for tx in txs:
        tx.with_company(tx.company_id)._create_payment()
    txs.is_post_processed = True
    invoices = orders._create_invoices(grouped=True)
    invoices.action_post()
    cr.commit()
    log(f"  {count} paid and invoiced orders ({label}) in {time.time() - started:.1f}s")
    return orders, txs


def measure(label, run):
    cr.commit()
    env.invalidate_all()
    queries = cr.sql_log_count
    started = time.time()
    done = run()
    elapsed = time.time() - started
    queries = cr.sql_log_count - queries
    return {
        "label": label,
        "refunds": done,
        "seconds": elapsed,
        "per_second": done / elapsed if elapsed else 0.0,
        "queries_per_refund": queries / done if done else 0.0,
    }


def main():
    log(f"Refund benchmark: {SIZE} refunds each way")
    orders_count = max(1, SIZE // REFUNDS_PER_ORDER)
    size = orders_count * REFUNDS_PER_ORDER
    provider = prepare_provider()
    partner = env["res.partner"].create({"name": "Bench Customer", "email": "bench@example.com"})
    product = env["product.product"].create(
        {
            "name": "Bench Gift Card",
            "type": "service",
            "list_price": UNIT_PRICE,
            "taxes_id": [Command.clear()],
            "invoice_policy": "order",
        }
    )
    company.oms_refund_mode = "batch"

    # ---- OMS: credit notes posted, refunds queued, executed by the batch cron ----
    oms_orders, _oms_txs = paid_orders(orders_count, provider, partner, product, "oms")
    started = time.time()
    vals_list = []
    for order in oms_orders:
        invoice = order.invoice_ids[:1]
        line = invoice.invoice_line_ids[:1]
        for index in range(REFUNDS_PER_ORDER):
            vals_list.append(
                {
                    "move_type": "out_refund",
                    "partner_id": partner.id,
                    "journal_id": invoice.journal_id.id,
                    "reversed_entry_id": invoice.id,
                    "invoice_date": fields.Date.context_today(order),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": f"Goodwill {index + 1}",
                                "account_id": line.account_id.id,
                                "quantity": 1,
                                "price_unit": UNIT_PRICE,
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
            )
    credit_notes = env["account.move"].create(vals_list)
    credit_notes.action_post()
    cr.commit()
    refunds = env["oms.refund"].search([("credit_note_id", "in", credit_notes.ids)])
    assert len(refunds) == size and set(refunds.mapped("state")) == {"queued"}, "refunds queued"
    log(f"  {size} credit notes posted, refunds queued, in {time.time() - started:.1f}s")

    def run_cron():
        model = env["oms.refund"]
        while model.search_count([("state", "=", "queued"), ("mode", "=", "batch")]):
            model._cron_process_refunds()
        return model.search_count([("id", "in", refunds.ids), ("state", "=", "done")])

    oms = measure("OMS refund batch cron", run_cron)
    refunds.invalidate_recordset()
    failed = refunds.filtered(lambda r: r.state != "done")
    assert not failed, f"{len(failed)} refunds not done: {failed[:3].mapped('failure_reason')}"
    reconciled = refunds.credit_note_id.filtered(
        lambda m: m.payment_state in ("paid", "in_payment")
    )
    assert len(reconciled) == size, "every credit note paid by its refund"

    # ---- Odoo: the same refunds one by one through payment.refund.wizard ----
    _odoo_orders, odoo_txs = paid_orders(orders_count, provider, partner, product, "odoo")

    def run_wizard():
        done = 0
        for tx in odoo_txs:
            for _index in range(REFUNDS_PER_ORDER):
                before = tx.child_transaction_ids
                wizard = (
                    env["payment.refund.wizard"]
                    .with_context(active_model="account.payment", active_id=tx.payment_id.id)
                    .create({"payment_id": tx.payment_id.id, "amount_to_refund": UNIT_PRICE})
                )
                wizard.action_refund()
                tx.invalidate_recordset(["child_transaction_ids"])
                refund_tx = tx.child_transaction_ids - before
                refund_tx._post_process()  # what Odoo's payment cron does next
                cr.commit()
                done += refund_tx.state == "done" and bool(refund_tx.payment_id)
        return done

    odoo = measure("Odoo refund wizard, one by one", run_wizard)

    lines = [
        f"Refund benchmark ({size} refunds each way, payment_demo, {REFUNDS_PER_ORDER} per order)",
        f"{'':34} {'refunds':>8} {'seconds':>9} {'refunds/s':>10} {'queries/refund':>15}",
    ]
    for result in (oms, odoo):
        lines.append(
            f"{result['label']:34} {result['refunds']:>8} {result['seconds']:>9.1f} "
            f"{result['per_second']:>10.1f} {result['queries_per_refund']:>15.1f}"
        )
    report = "\n".join(lines)
    log(report)
    os.makedirs("bench/results", exist_ok=True)
    with open("bench/results/bench_refunds.txt", "w", encoding="utf-8") as result_file:
        result_file.write(report + "\n")


main()
