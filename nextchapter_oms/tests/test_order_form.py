from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import OmsCommon


@tagged("post_install", "-at_install")
class TestLineCancel(OmsCommon):
    def _cancel_wizard(self, order):
        action = order.action_oms_cancel_items()
        self.assertEqual(action["res_model"], "oms.line.cancel")
        return Form(self.env["oms.line.cancel"].with_context(**action["context"]))

    def test_cancel_items_lowers_line_and_shipment(self):
        order = self._oms_create_order(lines=[(self.product_1, 5), (self.product_2, 2)])
        line_1 = order.order_line.filtered(lambda line: line.product_id == self.product_1)
        self.assertTrue(order.oms_can_cancel_items)
        with self._cancel_wizard(order) as wizard:
            self.assertEqual(len(wizard.line_ids), 2)
            with wizard.line_ids.edit(0) as wizard_line:
                self.assertEqual(wizard_line.qty_cancellable, 5)
                wizard_line.quantity = 3
        wizard.record.action_apply()
        self.assertEqual(line_1.product_uom_qty, 2)
        self.assertEqual(line_1.oms_qty_cancelled, 3)
        self.assertEqual(line_1.oms_qty_to_ship, 2)
        move = order.picking_ids.move_ids.filtered(lambda m: m.product_id == self.product_1)
        self.assertEqual(move.product_uom_qty, 2)
        self.assertEqual(move.quantity, 2, "the reservation follows the lower demand")
        self.assertEqual(order.amount_total, 2 * 100 + 2 * 50)
        self.assertIn("Items cancelled", order.message_ids[0].body)
        self.assertIn(self.product_1.display_name, order.message_ids[0].body)

    def test_cancel_whole_line_cancels_its_move(self):
        order = self._oms_create_order(lines=[(self.product_1, 1), (self.product_2, 1)])
        line_2 = order.order_line.filtered(lambda line: line.product_id == self.product_2)
        wizard = self.env["oms.line.cancel"].create(
            {
                "order_id": order.id,
                "line_ids": [(0, 0, {"sale_line_id": line_2.id, "quantity": 1})],
            }
        )
        wizard.action_apply()
        move = order.picking_ids.move_ids.filtered(lambda m: m.product_id == self.product_2)
        self.assertEqual(move.state, "cancel")
        self.assertEqual(line_2.product_uom_qty, 0)
        self._oms_ship(order.picking_ids)
        self.assertEqual(order.oms_state, "shipped")

    def test_over_cancel_refused(self):
        order = self._oms_create_order(lines=[(self.product_1, 2)])
        line = order.order_line
        wizard = self.env["oms.line.cancel"].create(
            {"order_id": order.id, "line_ids": [(0, 0, {"sale_line_id": line.id, "quantity": 3})]}
        )
        with self.assertRaisesRegex(UserError, "only 2.0 Units is ordered and not shipped"):
            wizard.action_apply()
        self.assertEqual(line.product_uom_qty, 2)
        self.assertEqual(line.oms_qty_cancelled, 0)
        self.assertEqual(order.picking_ids.move_ids.product_uom_qty, 2)

    def test_shipped_quantity_protected(self):
        order = self._oms_create_order(lines=[(self.product_1, 5)])
        self._oms_ship(order.picking_ids, {self.product_1: 3.0})
        line = order.order_line
        self.assertEqual(line.qty_delivered, 3)
        self.assertEqual(line.oms_qty_cancellable, 2)
        wizard = self.env["oms.line.cancel"].create(
            {"order_id": order.id, "line_ids": [(0, 0, {"sale_line_id": line.id, "quantity": 3})]}
        )
        with self.assertRaisesRegex(UserError, "only 2.0 Units is ordered and not shipped"):
            wizard.action_apply()
        wizard.line_ids.quantity = 2
        wizard.action_apply()
        self.assertEqual(line.product_uom_qty, 3)
        self.assertEqual(line.oms_qty_cancelled, 2)
        backorder = order.picking_ids.filtered(lambda p: p.state != "done")
        self.assertFalse(backorder.move_ids.filtered(lambda m: m.state != "cancel"))
        self.assertEqual(order.oms_state, "shipped", "nothing is left open")
        self.assertFalse(order.oms_can_cancel_items)

    def test_refused_on_cancelled_or_locked_order(self):
        order = self._oms_create_order(lines=[(self.product_1, 2)])
        order.action_lock()
        with self.assertRaisesRegex(UserError, "is locked"):
            order.action_oms_cancel_items()
        order.action_unlock()
        wizard = self.env["oms.line.cancel"].create(
            {
                "order_id": order.id,
                "line_ids": [(0, 0, {"sale_line_id": order.order_line.id, "quantity": 1})],
            }
        )
        order._action_cancel()
        with self.assertRaisesRegex(UserError, "is cancelled"):
            wizard.action_apply()
        self.assertEqual(order.order_line.product_uom_qty, 2)

    def test_nothing_to_cancel_refused(self):
        order = self._oms_create_order(lines=[(self.product_1, 2)])
        wizard = self.env["oms.line.cancel"].create({"order_id": order.id})
        wizard.line_ids.quantity = 0
        with self.assertRaisesRegex(UserError, "Enter a quantity"):
            wizard.action_apply()


@tagged("post_install", "-at_install")
class TestOrderForm(OmsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # not a child of the customer: Odoo would pick a delivery child as the default address
        cls.new_address = cls.env["res.partner"].create(
            {"name": "Anna at work", "street": "Stationsplein 1", "city": "Utrecht"}
        )

    def test_delivery_address_carried_to_open_shipments(self):
        order = self._oms_create_order()
        self._oms_ship(order.picking_ids, {self.product_1: 2.0})
        done = order.picking_ids.filtered(lambda p: p.state == "done")
        open_shipment = order.picking_ids - done
        self.assertTrue(order.oms_can_edit_addresses)
        with Form(order) as form:
            form.partner_shipping_id = self.new_address
        self.assertEqual(order.partner_shipping_id, self.new_address)
        self.assertEqual(open_shipment.partner_id, self.new_address)
        self.assertEqual(done.partner_id, self.customer, "a shipped parcel keeps its address")
        self.assertFalse(
            open_shipment.activity_ids, "the address is carried, no warning left to do"
        )
        self.assertIn("Anna at work", open_shipment.message_ids[0].body)

    def test_invoice_address_editable_until_shipped(self):
        order = self._oms_create_order(lines=[(self.product_1, 1)])
        with Form(order) as form:
            form.partner_invoice_id = self.new_address
        self.assertEqual(order.partner_invoice_id, self.new_address)
        self._oms_ship(order.picking_ids)
        self.assertFalse(order.oms_can_edit_addresses)
        with self.assertRaisesRegex(UserError, "nothing is left to ship"):
            order.partner_shipping_id = self.customer_2
        self.assertEqual(order.partner_shipping_id, self.customer)
        with Form(order) as form:
            self.assertTrue(form._get_modifier("partner_shipping_id", "readonly"))

    def test_memo_and_customer_remarks(self):
        order = self._oms_create_order()
        with Form(order) as form:
            form.oms_memo = "<p>Called the customer</p>"
            form.oms_customer_note = "Please ring twice"
        self.assertIn("Called the customer", order.oms_memo)
        self.assertEqual(order.oms_customer_note, "Please ring twice")

    def test_send_email_composer_defaults_and_tab(self):
        order = self._oms_create_order()
        action = order.action_oms_send_email()
        self.assertEqual(action["res_model"], "mail.compose.message")
        composer_form = Form(self.env["mail.compose.message"].with_context(**action["context"]))
        self.assertEqual(composer_form.partner_ids[:], self.customer)
        self.assertEqual(composer_form.email_from, self.company.email_formatted)
        self.assertIn(order.name, composer_form.subject)
        composer_form.body = "<p>Your parcel leaves tomorrow.</p>"
        composer = composer_form.save()
        composer.action_send_mail()
        message = order.message_ids.filtered(lambda m: "parcel leaves" in (m.body or ""))
        self.assertEqual(len(message), 1)
        self.assertEqual(message.email_from, self.company.email_formatted)
        self.assertEqual(message.reply_to, self.company.email_formatted)
        self.assertEqual(message.partner_ids, self.customer)
        self.assertEqual(message.message_type, "comment")
        self.assertIn(message, order.oms_mail_message_ids)
        order.message_post(body="internal note", subtype_xmlid="mail.mt_note")
        order.invalidate_recordset(["oms_mail_message_ids"])
        self.assertEqual(order.oms_mail_message_ids, message, "notes are not e-mails")
