from lxml import etree

from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import OmsCommon


@tagged("post_install", "-at_install")
class TestOmsState(OmsCommon):
    def test_quotation_then_awaiting_payment(self):
        order = self._oms_create_order(confirm=False)
        self.assertEqual(order.oms_state, "quotation")
        self.assertFalse(order.oms_export_state)
        order.action_confirm()
        self.assertEqual(order.oms_state, "awaiting_payment")
        self.assertEqual(order.oms_export_state, "pending")
        self.assertFalse(order.oms_is_paid)

    def test_registered_payment_on_invoice(self):
        order = self._oms_create_order()
        invoice = self._oms_invoice(order)
        self._oms_register_payment(invoice, amount=100.0)
        self.assertEqual(order.oms_amount_paid, 100.0)
        self.assertEqual(order.oms_state, "awaiting_payment", "250 ordered, 100 paid")
        self._oms_register_payment(invoice)
        self.assertEqual(order.oms_amount_paid, 250.0)
        self.assertEqual(order.oms_state, "awaiting_shipment")

    def test_online_payment_demo_provider(self):
        order = self._oms_create_order()
        tx = self._oms_pay_online(order, state="pending")
        tx._set_pending()
        self.assertEqual(order.oms_state, "awaiting_payment")
        tx._set_done()
        self.assertEqual(order.oms_amount_paid, 250.0)
        self.assertEqual(order.oms_state, "awaiting_shipment")

    def test_authorised_online_payment_counts_as_paid(self):
        order = self._oms_create_order()
        self._oms_pay_online(order, state="authorized")
        self.assertTrue(order.oms_is_paid)
        self.assertEqual(order.oms_state, "awaiting_shipment")

    def test_transaction_and_its_reconciled_payment_counted_once(self):
        order = self._oms_create_order()
        invoice = self._oms_invoice(order)
        tx = self._oms_pay_online(order)
        tx.invoice_ids = invoice
        tx._post_process()
        self.assertTrue(tx.payment_id, "the transaction created its payment")
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(order.oms_amount_paid, 250.0, "each euro counted once")

    def test_credit_note_reconciliation_is_not_a_payment(self):
        order = self._oms_create_order()
        invoice = self._oms_invoice(order)
        # Money: an order is only credited up to what was paid for it (paid online here,
        # the payment not reconciled with the invoice)
        self._oms_pay_online(order)
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "test"})
        )
        reversal.refund_moves()
        credit_note = order.invoice_ids.filtered(lambda m: m.move_type == "out_refund")
        if credit_note.state == "draft":
            credit_note.action_post()
        receivable_lines = (invoice + credit_note).line_ids.filtered(
            lambda line: line.account_type == "asset_receivable" and not line.reconciled
        )
        if receivable_lines:
            receivable_lines.reconcile()
        self.assertEqual(invoice.payment_state, "reversed")
        self.assertEqual(order.oms_amount_paid, 250.0, "the credit note is not counted as paid")
        self.assertEqual(order.oms_state, "awaiting_shipment")

    def test_shipping_outranks_payment(self):
        order = self._oms_create_order()
        picking = order.picking_ids
        self.assertEqual(picking.oms_shipment_state, "not_shipped")
        self._oms_ship(picking)
        self.assertEqual(picking.oms_shipment_state, "shipped")
        self.assertFalse(order.oms_is_paid)
        self.assertEqual(order.oms_state, "shipped", "a B2B order shipped on credit")

    def test_one_of_two_shipments_then_both(self):
        order = self._oms_create_order()
        self._oms_pay_online(order)
        self.assertEqual(order.oms_state, "awaiting_shipment")
        picking = order.picking_ids
        self._oms_ship(picking, {self.product_1: 2.0})
        backorder = order.picking_ids - picking
        self.assertEqual(len(backorder), 1)
        self.assertEqual(backorder.oms_shipment_state, "not_shipped")
        self.assertEqual(order.oms_state, "partially_shipped")
        self._oms_ship(backorder)
        self.assertEqual(order.oms_state, "shipped")

    def test_return_does_not_change_status(self):
        order = self._oms_create_order(lines=[(self.product_1, 1)])
        self._oms_ship(order.picking_ids)
        self.assertEqual(order.oms_state, "shipped")
        wizard = Form(
            self.env["stock.return.picking"].with_context(
                active_id=order.picking_ids.id, active_model="stock.picking"
            )
        ).save()
        wizard.product_return_moves.quantity = 1.0
        return_picking = self.env["stock.picking"].browse(wizard.action_create_returns()["res_id"])
        self._oms_ship(return_picking)
        self.assertFalse(return_picking.oms_shipment_state)
        self.assertEqual(order.oms_state, "shipped")

    def test_cancel(self):
        order = self._oms_create_order()
        order._action_cancel()
        self.assertEqual(order.oms_state, "cancelled")
        self.assertEqual(order.picking_ids.oms_shipment_state, "cancelled")

    def test_status_filters(self):
        orders = {
            "awaiting_payment": self._oms_create_order(),
            "awaiting_shipment": self._oms_create_order(),
            "partially_shipped": self._oms_create_order(),
            "shipped": self._oms_create_order(lines=[(self.product_3, 1)]),
            "cancelled": self._oms_create_order(),
        }
        self._oms_pay_online(orders["awaiting_shipment"])
        self._oms_ship(orders["partially_shipped"].picking_ids, {self.product_1: 1.0})
        self._oms_ship(orders["shipped"].picking_ids)
        orders["cancelled"]._action_cancel()
        all_ids = [order.id for order in orders.values()]
        for state, order in orders.items():
            self.assertEqual(order.oms_state, state)
            action = self.env.ref(f"nextchapter_oms.sale_order_action_{state}")
            context = safe_eval(action.context)
            self.assertEqual(context, {f"search_default_{state}": 1})
            arch = etree.fromstring(
                self.env["sale.order"].get_view(action.search_view_id.id, "search")["arch"]
            )
            domain = safe_eval(arch.xpath(f"//filter[@name='{state}']")[0].get("domain"))
            found = self.env["sale.order"].search(
                safe_eval(action.domain) + domain + [("id", "in", all_ids)]
            )
            self.assertEqual(found, order, state)
        all_action = self.env.ref("nextchapter_oms.sale_order_action")
        domain = [*safe_eval(all_action.domain), ("id", "in", all_ids)]
        found = self.env["sale.order"].search(domain)
        self.assertEqual(len(found), 5)
