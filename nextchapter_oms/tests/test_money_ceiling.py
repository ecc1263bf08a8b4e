from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import OmsCommon


class MoneyCommon(OmsCommon):
    """Helpers of the Money tests: paid orders and credit notes made as users do."""

    def _money_paid_order(self, lines=None, online=True):
        """A confirmed order (250 by default), paid online with payment_demo (a done
        transaction with its payment) or by a payment registered on its invoice, and
        invoiced. Returns (order, invoice, transaction or False)."""
        order = self._oms_create_order(lines=lines)
        tx = False
        if online:
            tx = self._oms_pay_online(order)
            tx._post_process()
            self.assertTrue(tx.payment_id, "the transaction got its payment")
        invoice = self._oms_invoice(order)
        if not online:
            self._oms_register_payment(invoice)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertTrue(order.oms_is_paid)
        return order, invoice, tx

    def _money_credit_note_form(self, order):
        action = order.action_oms_create_credit_note()
        self.assertEqual(action["res_model"], "oms.credit.note.create")
        return Form(order.env["oms.credit.note.create"].with_context(**action["context"]))

    def _money_credit(self, order, amount, reason="Goodwill"):
        """Credit ``amount`` through the credit note wizard; returns the credit note."""
        with self._money_credit_note_form(order) as wizard_form:
            wizard_form.credit_type = "amount"
            wizard_form.amount = amount
            wizard_form.reason = reason
            wizard = wizard_form.save()
        action = wizard.action_create()
        return self.env["account.move"].browse(action["res_id"])

    def _refund_amount(self, credit_note):
        return self.env["oms.refund"].search([("credit_note_id", "=", credit_note.id)]).amount

    def _money_reverse(self, invoice, reason="Odoo reversal"):
        """Reverse an invoice with Odoo's own reversal wizard and post the credit note."""
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": reason})
        )
        action = reversal.refund_moves()
        credit_note = self.env["account.move"].browse(action["res_id"])
        self.assertEqual(credit_note.state, "draft")
        return credit_note


@tagged("post_install", "-at_install")
class TestMoneyCeiling(MoneyCommon):
    def test_credit_up_to_paid_then_one_cent_above_refused(self):
        order, invoice, _tx = self._money_paid_order()
        self.assertTrue(order.oms_can_credit_note)
        self.assertEqual(order.oms_creditable_amount, 250.0)
        credit_note = self._money_credit(order, 100.0, reason="Damaged cover")
        self.assertEqual(credit_note.state, "posted")
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        self.assertEqual(credit_note.amount_total, 100.0)
        self.assertIn("Damaged cover", credit_note.ref)
        self.assertEqual(order.oms_amount_credited, 100.0)
        self.assertEqual(order.oms_creditable_amount, 150.0)
        # money back without a returned item leaves the invoiced quantities alone
        self.assertEqual(order.order_line.mapped("qty_invoiced"), [2.0, 1.0])

        with self.assertRaises(UserError) as error:
            self._money_credit(order, 150.01)
        self.assertIn("cannot be credited", str(error.exception))
        self.assertIn("150.01", str(error.exception))
        self.assertEqual(order.oms_amount_credited, 100.0)
        self.assertEqual(
            len(order.oms_invoice_ids.filtered(lambda m: m.move_type == "out_refund")), 1
        )

        self._money_credit(order, 150.0)
        self.assertEqual(order.oms_amount_credited, 250.0)
        self.assertEqual(order.oms_creditable_amount, 0.0)
        self.assertFalse(order.oms_can_credit_note)
        with self.assertRaises(UserError) as error:
            order.action_oms_create_credit_note()
        self.assertIn("nothing left to credit", str(error.exception))

    def test_credit_items(self):
        order, invoice, _tx = self._money_paid_order()
        with self._money_credit_note_form(order) as wizard_form:
            wizard_form.credit_type = "lines"
            wizard_form.reason = "Hoodie faded"
            self.assertEqual(len(wizard_form.line_ids), 2)
            hoodie_index = next(
                index
                for index in range(len(wizard_form.line_ids))
                if wizard_form.line_ids.edit(index).product_id == self.product_2
            )
            with wizard_form.line_ids.edit(hoodie_index) as line:
                line.quantity = 1
            self.assertEqual(wizard_form.amount_total, 50.0)
            wizard = wizard_form.save()
        credit_note = self.env["account.move"].browse(wizard.action_create()["res_id"])
        self.assertEqual(credit_note.amount_total, 50.0)
        self.assertIn("Hoodie", credit_note.invoice_line_ids.name)
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        self.assertEqual(order.oms_amount_credited, 50.0)

    def test_credit_amount_spread_over_taxes(self):
        tax = self.env["account.tax"].create(
            {"name": "VAT 21%", "amount": 21.0, "amount_type": "percent", "type_tax_use": "sale"}
        )
        self.product_1.taxes_id = [Command.set(tax.ids)]
        order, _invoice, _tx = self._money_paid_order(
            lines=[(self.product_1, 1), (self.product_3, 1)]
        )
        self.assertEqual(order.amount_total, 131.0)
        credit_note = self._money_credit(order, 60.50)
        self.assertEqual(credit_note.amount_total, 60.50)
        taxed = credit_note.invoice_line_ids.filtered("tax_ids")
        self.assertEqual(taxed.tax_ids, tax)
        self.assertEqual(order.oms_amount_credited, 60.50)
        # 10.00 including 21% has no two-decimal price without taxes: a line makes up the cent
        taxed_order, _invoice, _tx = self._money_paid_order(lines=[(self.product_1, 1)])
        credit_note = self._money_credit(taxed_order, 10.0)
        self.assertEqual(credit_note.amount_total, 10.0)
        self.assertEqual(taxed_order.oms_amount_credited, 10.0)
        self.assertEqual(self._refund_amount(credit_note), 10.0)

    def test_odoo_reversal_above_paid_refused(self):
        order = self._oms_create_order()
        invoice = self._oms_invoice(order)
        self._oms_register_payment(invoice, amount=249.99)
        self.assertEqual(order.oms_amount_paid, 249.99)
        credit_note = self._money_reverse(invoice)
        self.assertEqual(credit_note.amount_total, 250.0, "one cent above what was paid")
        with self.assertRaises(UserError) as error:
            credit_note.action_post()
        self.assertIn("cannot be credited", str(error.exception))
        self.assertIn("249.99", str(error.exception))
        self.assertEqual(credit_note.state, "draft")
        self.assertEqual(order.oms_amount_credited, 0.0)
        self.assertFalse(self.env["oms.refund"].search([("order_id", "=", order.id)]))

    def test_odoo_reversal_up_to_paid(self):
        order, invoice, _tx = self._money_paid_order(online=False)
        credit_note = self._money_reverse(invoice)
        self.assertEqual(credit_note.invoice_line_ids.sale_line_ids.order_id, order)
        credit_note.action_post()
        self.assertEqual(credit_note.state, "posted")
        self.assertEqual(order.oms_amount_credited, 250.0)
        refund = self.env["oms.refund"].search([("credit_note_id", "=", credit_note.id)])
        self.assertEqual(refund.amount, 250.0)
        self.assertEqual(refund.order_id, order)
        self.assertEqual(refund.invoice_id, invoice)
        self.assertIn(credit_note, order.oms_invoice_ids)

    def test_unpaid_invoice_refused(self):
        order = self._oms_create_order()
        invoice = self._oms_invoice(order)
        self.assertFalse(order.oms_can_credit_note)
        with self.assertRaises(UserError) as error:
            order.action_oms_create_credit_note()
        self.assertIn("cancel its unpaid invoice", str(error.exception))
        credit_note = self._money_reverse(invoice)
        with self.assertRaises(UserError) as error:
            credit_note.action_post()
        self.assertIn("has not been paid", str(error.exception))
        self.assertEqual(credit_note.state, "draft")
        # cancelling is the way for an unpaid invoice
        credit_note.unlink()
        invoice.button_draft()
        invoice.button_cancel()
        self.assertEqual(invoice.state, "cancel")

    def test_public_ceiling_helper(self):
        order, _invoice, _tx = self._money_paid_order()
        order._oms_check_credit_ceiling(250.0)
        with self.assertRaises(UserError) as error:
            order._oms_check_credit_ceiling(250.01)
        self.assertIn("cannot be credited", str(error.exception))

    def test_invoices_tab(self):
        order, invoice, _tx = self._money_paid_order()
        credit_note = self._money_credit(order, 30.0)
        self.assertEqual(order.oms_invoice_ids, invoice | credit_note)
        self.assertEqual(order.oms_amount_paid, 250.0)
        self.assertEqual(order.oms_amount_credited, 30.0)
        self.assertEqual(order.oms_creditable_amount, 220.0)
        with Form(order) as order_form:
            self.assertEqual(order_form.oms_creditable_amount, 220.0)
            self.assertEqual(len(order_form.oms_invoice_ids), 2)

    def test_credit_note_to_draft_cancels_refund_and_repost_reuses_it(self):
        order, _invoice, _tx = self._money_paid_order()
        credit_note = self._money_credit(order, 40.0)
        refund = credit_note.sudo().oms_refund_ids
        self.assertEqual(refund.state, "to_approve")
        credit_note.button_draft()
        self.assertEqual(refund.state, "cancelled")
        self.assertEqual(order.oms_amount_credited, 0.0)
        credit_note.action_post()
        self.assertEqual(credit_note.sudo().oms_refund_ids, refund, "never two refunds")
        self.assertEqual(refund.state, "to_approve")
        self.assertEqual(refund.amount, 40.0)
