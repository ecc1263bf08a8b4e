"""Two postings of credit notes on the same order at once, on separate cursors.

The data must be committed for a second cursor to see it, so this class builds its order on
a cursor of its own in the database's main company (as Odoo's own concurrency tests do, e.g.
account's TestSequenceMixinConcurrency) and deletes everything it committed afterwards.
"""

import threading

import psycopg2

from odoo import SUPERUSER_ID, Command, api
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger


@tagged("post_install", "-at_install")
class TestMoneyConcurrency(TransactionCase):
    def setUp(self):
        super().setUp()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env.ref("base.main_company")
            env = env(context={"allowed_company_ids": company.ids, "tracking_disable": True})
            journal = env["account.journal"].create(
                {"name": "OMS concurrency sales", "code": "OMSCC", "type": "sale"}
            )
            partner = env["res.partner"].create({"name": "Concurrent Customer"})
            product = env["product.product"].create(
                {
                    "name": "Concurrent Gift Card",
                    "type": "service",
                    "list_price": 100.0,
                    "taxes_id": [Command.clear()],
                    "invoice_policy": "order",
                }
            )
            order = env["sale.order"].create(
                {
                    "partner_id": partner.id,
                    "order_line": [
                        Command.create({"product_id": product.id, "product_uom_qty": 1})
                    ],
                }
            )
            order.action_confirm()
            tx = env["payment.transaction"].create(
                {
                    "provider_id": env.ref("payment.payment_provider_demo").id,
                    "payment_method_id": env.ref("payment_demo.payment_method_demo").id,
                    "amount": order.amount_total,
                    "currency_id": order.currency_id.id,
                    "partner_id": partner.id,
                    "reference": f"OMS-CONCURRENCY-{order.id}",
                    "operation": "online_direct",
                    "sale_order_ids": [Command.set(order.ids)],
                }
            )
            tx._set_done()
            invoice = order._create_invoices()
            invoice.journal_id = journal
            invoice.action_post()
            line = invoice.invoice_line_ids
            credit_notes = env["account.move"].create(
                [
                    {
                        "move_type": "out_refund",
                        "partner_id": partner.id,
                        "journal_id": journal.id,
                        "reversed_entry_id": invoice.id,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": name,
                                    "account_id": line.account_id.id,
                                    "quantity": 1,
                                    "price_unit": 60.0,
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                    for name in ("first goodwill", "second goodwill")
                ]
            )
            self.assertEqual(order.oms_amount_paid, 100.0)
            self.data = {
                "journal": journal.id,
                "partner": partner.id,
                "product": product.id,
                "order": order.id,
                "tx": tx.id,
                "invoice": invoice.id,
                "credit_notes": credit_notes.ids,
            }
            cr.commit()  # pylint: disable=invalid-commit
        self.envs = [
            api.Environment(self.env.registry.cursor(), SUPERUSER_ID, {}) for _index in range(2)
        ]
        self.addCleanup(self._clean_up)

    def _clean_up(self):
        for env in self.envs:
            env.cr.rollback()
            env.cr.close()
        data = self.data
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"force_delete": True})
            moves = env["account.move"].browse(data["credit_notes"] + [data["invoice"]])
            refunds = env["oms.refund"].search([("credit_note_id", "in", moves.ids)])
            moves.filtered(lambda m: m.state != "draft").button_draft()
            refunds.unlink()
            moves.unlink()
            env["payment.transaction"].browse(data["tx"]).unlink()
            order = env["sale.order"].browse(data["order"])
            order._action_cancel()
            order.unlink()
            env["product.product"].browse(data["product"]).product_tmpl_id.unlink()
            env["res.partner"].browse(data["partner"]).unlink()
            env["account.journal"].browse(data["journal"]).unlink()
            cr.commit()  # pylint: disable=invalid-commit

    @mute_logger("odoo.sql_db")
    def test_two_postings_at_once_cannot_both_pass(self):
        """Paid 100; two credit notes of 60 posted at the same time: one passes, the other
        waits for the order's lock and cannot pass on its stale view of the order."""
        env_1, env_2 = self.envs
        note_1, note_2 = self.data["credit_notes"]
        # the second transaction starts (takes its snapshot) before the first commits
        env_2.cr.execute("SELECT id FROM sale_order WHERE id = %s", [self.data["order"]])

        env_1["account.move"].browse(note_1).action_post()  # holds the order's lock

        outcome = {}

        def post_second():
            try:
                env_2["account.move"].browse(note_2).action_post()
                outcome["result"] = "posted"
            except psycopg2.errors.SerializationFailure:
                outcome["result"] = "serialization failure"
            except UserError as error:
                outcome["result"] = str(error)

        second = threading.Thread(target=post_second)
        second.start()
        env_1.cr.commit()  # pylint: disable=invalid-commit
        second.join(timeout=60)
        self.assertFalse(second.is_alive())
        self.assertEqual(outcome["result"], "serialization failure")
        env_2.cr.rollback()
        env_2.invalidate_all()

        # Odoo retries a transaction that failed to serialise: the retry sees the first
        # credit note and is refused by the ceiling
        with self.assertRaises(UserError) as error:
            env_2["account.move"].browse(note_2).action_post()
        self.assertIn("cannot be credited", str(error.exception))
        env_2.cr.rollback()

        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            notes = env["account.move"].browse(self.data["credit_notes"])
            self.assertEqual(notes.mapped("state"), ["posted", "draft"])
            order = env["sale.order"].browse(self.data["order"])
            self.assertEqual(order.oms_amount_credited, 60.0)
            refunds = env["oms.refund"].search([("order_id", "=", order.id)])
            self.assertEqual(refunds.credit_note_id, notes[0])
