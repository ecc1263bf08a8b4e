from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged

from .common import OmsCommon


class ReturnsCommon(OmsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reason_small = cls.env["oms.return.reason"].create({"name": "Too small"})
        cls.reason_damaged = cls.env["oms.return.reason"].create({"name": "Damaged"})
        cls.oms_user = cls._oms_new_user("oms_returns_user", "nextchapter_oms.group_oms_user")

    def _oms_shipped_order(self, lines=None, paid=True, **values):
        """A confirmed order, invoiced and paid (unless ``paid`` is False), fully shipped."""
        order = self._oms_create_order(lines=lines, **values)
        if paid:
            invoice = self._oms_invoice(order)
            self._oms_register_payment(invoice)
        self._oms_ship(order.picking_ids)
        self.assertEqual(order.oms_state, "shipped")
        return order

    def _oms_sale_line(self, order, product):
        return order.order_line.filtered(lambda line: line.product_id == product)

    def _oms_new_return(self, order, lines, user=None, **options):
        """Create a return with the form, as customer service does; ``lines`` is a list
        of (product, quantity) or (product, quantity, correction)."""
        model = self.env["oms.return"]
        if user:
            model = model.with_user(user)
        form = Form(model.with_context(default_order_id=order.id))
        for field, value in options.items():
            setattr(form, field, value)
        for product, quantity, *rest in lines:
            with form.line_ids.new() as line:
                line.sale_line_id = self._oms_sale_line(order, product)
                line.quantity = quantity
                line.reason_id = self.reason_small
                if rest:
                    line.correction = rest[0]
        return form.save()

    def _oms_stock(self, product):
        """On hand in the first warehouse's stock."""
        return product.with_context(location=self.stock_location.id).qty_available

    def _oms_customer_mails(self, since_id=0):
        """Outgoing e-mails and notifications addressed to the customer."""
        partner = self.customer
        mails = self.env["mail.mail"].search(
            [("mail_message_id", ">", since_id), ("recipient_ids", "in", partner.ids)]
        )
        notifications = self.env["mail.notification"].search(
            [("res_partner_id", "=", partner.id), ("mail_message_id.id", ">", since_id)]
        )
        return mails, notifications

    def _oms_last_message_id(self):
        return self.env["mail.message"].search([], order="id desc", limit=1).id


@tagged("post_install", "-at_install")
class TestReturnsProcess(ReturnsCommon):
    def test_multi_line_return_with_restock(self):
        order = self._oms_shipped_order()
        invoice = order.invoice_ids
        self.assertEqual(self._oms_stock(self.product_1), 98.0)
        self.assertEqual(self._oms_stock(self.product_2), 99.0)
        self.assertTrue(order.oms_can_return)
        action = order.action_oms_return()
        self.assertEqual(action["res_model"], "oms.return")
        ret = self._oms_new_return(order, [(self.product_1, 1), (self.product_2, 1)])
        self.assertTrue(ret.name.startswith("RT/"))
        self.assertTrue(ret.restock, "restock by default (company setting)")
        self.assertTrue(ret.link_credit_note)
        self.assertFalse(ret.refund_shipping)
        self.assertTrue(ret.notify_customer)
        self.assertEqual(ret.line_ids.mapped("amount"), [100.0, 50.0])
        self.assertEqual(ret.amount_total, 150.0)

        ret.action_process()

        self.assertEqual(ret.state, "done")
        picking = ret.return_picking_id
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.picking_type_code, "incoming")
        self.assertEqual(picking.location_dest_id, self.stock_location)
        self.assertEqual(
            sorted((m.product_id.id, m.quantity) for m in picking.move_ids),
            sorted([(self.product_1.id, 1.0), (self.product_2.id, 1.0)]),
        )
        self.assertEqual(self._oms_stock(self.product_1), 99.0)
        self.assertEqual(self._oms_stock(self.product_2), 100.0)
        self.assertEqual(self._oms_sale_line(order, self.product_1).qty_delivered, 1.0)
        self.assertEqual(self._oms_sale_line(order, self.product_2).qty_delivered, 0.0)
        credit_note = ret.credit_note_id
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.state, "posted")
        self.assertEqual(credit_note.amount_total, 150.0)
        self.assertEqual(credit_note.reversed_entry_id, invoice)
        self.assertEqual(credit_note.partner_id, order.partner_invoice_id)
        self.assertEqual(
            credit_note.invoice_line_ids.sale_line_ids, order.order_line.filtered("product_id")
        )
        self.assertEqual(order.oms_state, "shipped", "a return does not change the status")
        with self.assertRaises(UserError) as error:
            self._oms_new_return(order, [(self.product_2, 1)]).action_process()
        self.assertIn("only 0.0 Units was shipped and not returned yet", str(error.exception))

    def test_return_without_restock(self):
        order = self._oms_shipped_order()
        moves_before = self.env["stock.move"].search_count([])
        ret = self._oms_new_return(order, [(self.product_1, 2)], restock=False)
        ret.action_process()
        self.assertEqual(ret.state, "done")
        self.assertFalse(ret.return_picking_ids)
        self.assertEqual(self.env["stock.move"].search_count([]), moves_before, "no stock move")
        self.assertEqual(self._oms_stock(self.product_1), 98.0)
        self.assertEqual(self._oms_sale_line(order, self.product_1).qty_delivered, 2.0)
        self.assertEqual(ret.credit_note_id.amount_total, 200.0)
        # what was returned without restocking cannot be returned again
        with self.assertRaises(UserError) as error:
            self._oms_new_return(order, [(self.product_1, 1)]).action_process()
        self.assertIn("only 0.0 Units was shipped and not returned yet", str(error.exception))
        self.assertTrue(order.oms_can_return, "the hoodie can still be returned")

    def test_return_without_credit_note(self):
        order = self._oms_shipped_order()
        ret = self._oms_new_return(order, [(self.product_1, 1)], link_credit_note=False)
        ret.action_process()
        self.assertEqual(ret.state, "done")
        self.assertFalse(ret.credit_note_id)
        self.assertFalse(
            self.env["account.move"].search(
                [("move_type", "=", "out_refund"), ("invoice_origin", "=", order.name)]
            )
        )
        self.assertEqual(ret.return_picking_id.state, "done")
        self.assertEqual(ret.amount_total, 100.0, "the amount is still shown")

    def test_return_with_shipping_refund(self):
        shipping_product = self.env["product.product"].create(
            {"name": "Shipping", "type": "service", "list_price": 5.0, "taxes_id": False}
        )
        carrier = self.env["delivery.carrier"].create(
            {
                "name": "PostNL",
                "product_id": shipping_product.id,
                "delivery_type": "fixed",
                "fixed_price": 5.95,
            }
        )
        order = self._oms_create_order(confirm=False)
        order.set_delivery_line(carrier, 5.95)
        order.action_confirm()
        invoice = self._oms_invoice(order)
        self._oms_register_payment(invoice)
        self._oms_ship(order.picking_ids)
        delivery_line = order.order_line.filtered("is_delivery")
        self.assertEqual(order.amount_total, 255.95)

        ret = self._oms_new_return(order, [(self.product_2, 1)], refund_shipping=True)
        self.assertEqual(ret.shipping_amount, 5.95)
        self.assertEqual(ret.amount_total, 55.95)
        ret.action_process()
        credit_note = ret.credit_note_id
        self.assertEqual(credit_note.amount_total, 55.95)
        shipping_line = credit_note.invoice_line_ids.filtered(
            lambda line: line.sale_line_ids == delivery_line
        )
        self.assertEqual(shipping_line.price_total, 5.95)
        # the shipping costs are refunded once
        second = self._oms_new_return(order, [(self.product_1, 1)], refund_shipping=True)
        with self.assertRaises(UserError) as error:
            second.action_process()
        self.assertIn("were already refunded by return", str(error.exception))
        self.assertEqual(second.state, "draft")
        # without shipping the second return goes through
        second.refund_shipping = False
        self.assertEqual(second.amount_total, 100.0)
        second.action_process()
        self.assertEqual(second.credit_note_id.amount_total, 100.0)

    def test_negative_and_positive_correction(self):
        order = self._oms_shipped_order()
        ret = self._oms_new_return(order, [(self.product_1, 1, -20.0), (self.product_2, 1, 5.0)])
        self.assertEqual(ret.line_ids.mapped("subtotal"), [80.0, 55.0])
        self.assertEqual(ret.amount_total, 135.0)
        ret.action_process()
        credit_note = ret.credit_note_id
        self.assertEqual(credit_note.amount_total, 135.0)
        corrections = credit_note.invoice_line_ids.filtered(lambda line: not line.sale_line_ids)
        self.assertEqual(sorted(corrections.mapped("price_total")), [-20.0, 5.0])
        self.assertEqual(
            credit_note.invoice_line_ids.filtered("sale_line_ids").mapped("quantity"), [1.0, 1.0]
        )

    def test_correction_never_makes_a_line_negative(self):
        order = self._oms_shipped_order()
        with self.assertRaises(ValidationError) as error:
            self._oms_new_return(order, [(self.product_1, 1, -100.01)])
        self.assertIn("would make the line negative", str(error.exception))
        # a correction down to zero is allowed: nothing to credit, no credit note
        ret = self._oms_new_return(order, [(self.product_1, 1, -100.0)])
        self.assertEqual(ret.amount_total, 0.0)
        ret.action_process()
        self.assertEqual(ret.state, "done")
        self.assertFalse(ret.credit_note_id)

    def test_amount_as_invoiced_with_discount_and_tax(self):
        tax = self.env["account.tax"].create(
            {"name": "VAT 21%", "amount": 21.0, "amount_type": "percent", "type_tax_use": "sale"}
        )
        book = self._oms_create_product("Poetry book", 40.0)
        book.taxes_id = tax
        self._oms_set_stock(book, self.stock_location, 10)
        order = self._oms_create_order(lines=[(book, 3)], confirm=False)
        order.order_line.discount = 10.0
        order.action_confirm()
        invoice = self._oms_invoice(order)
        self._oms_register_payment(invoice)
        self._oms_ship(order.picking_ids)
        self.assertEqual(invoice.amount_total, 130.68)
        ret = self._oms_new_return(order, [(book, 1, -3.63)])
        self.assertAlmostEqual(ret.line_ids.price_unit, 43.56)
        self.assertEqual(ret.line_ids.amount, 43.56)
        self.assertEqual(ret.amount_total, 39.93)
        ret.action_process()
        credit_note = ret.credit_note_id
        self.assertEqual(credit_note.amount_total, 39.93)
        self.assertEqual(credit_note.invoice_line_ids.tax_ids, tax)

    def test_over_return_refused(self):
        order = self._oms_shipped_order()
        ret = self._oms_new_return(order, [(self.product_1, 3)])
        moves_before = self.env["stock.move"].search_count([])
        with self.assertRaises(UserError) as error:
            ret.action_process()
        self.assertIn(
            "You cannot return 3.0 Units of Organic T-shirt: only 2.0 Units was shipped",
            str(error.exception),
        )
        self.assertEqual(ret.state, "draft")
        self.assertFalse(ret.return_picking_ids)
        self.assertFalse(ret.credit_note_id)
        self.assertEqual(self.env["stock.move"].search_count([]), moves_before)
        # two lines of the same item count together
        ret = self._oms_new_return(order, [(self.product_1, 1), (self.product_1, 2)])
        with self.assertRaises(UserError):
            ret.action_process()
        # what is not shipped yet cannot be returned
        unshipped = self._oms_create_order()
        self.assertFalse(unshipped.oms_can_return)
        with self.assertRaises(UserError) as error:
            unshipped.action_oms_return()
        self.assertIn("has no shipped items left to return", str(error.exception))

    def test_return_of_a_partial_shipment(self):
        order = self._oms_create_order(lines=[(self.product_1, 3)])
        self._oms_ship(order.picking_ids, {self.product_1: 2.0})
        ret = self._oms_new_return(order, [(self.product_1, 2)], link_credit_note=False)
        ret.action_process()
        line = self._oms_sale_line(order, self.product_1)
        self.assertEqual(line.qty_delivered, 0.0)
        self.assertEqual(self._oms_stock(self.product_1), 100.0, "2 shipped, 2 back")
        backorder = order.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state not in ("done", "cancel")
        )
        self.assertEqual(backorder.move_ids.product_uom_qty, 1.0, "the backorder is untouched")

    def test_notice_completed_on_processing(self):
        order = self._oms_shipped_order()
        notice = self.env["oms.return.notice"].create(
            {
                "order_id": order.id,
                "line_ids": [
                    Command.create(
                        {
                            "sale_line_id": self._oms_sale_line(order, self.product_1).id,
                            "quantity": 2,
                            "reason_id": self.reason_small.id,
                        }
                    )
                ],
            }
        )
        self.assertTrue(notice.name.startswith("RN/"))
        self.assertEqual(notice.source, "manual")
        self.assertEqual(notice.state, "announced")
        action = notice.action_create_return()
        form = Form(self.env["oms.return"].with_context(**action["context"]))
        self.assertEqual(form.order_id, order)
        self.assertEqual(len(form.line_ids), 1)
        with form.line_ids.edit(0) as line:
            self.assertEqual(line.quantity, 2.0)
            self.assertEqual(line.reason_id, self.reason_small)
            line.quantity = 1.0  # only one arrived
        ret = form.save()
        self.assertEqual(ret.notice_id, notice)
        ret.action_process()
        self.assertEqual(notice.state, "completed")
        self.assertEqual(notice.return_ids, ret)
        comparison = notice.comparison_ids
        self.assertEqual(comparison.product_id, self.product_1)
        self.assertEqual(
            (comparison.qty_announced, comparison.qty_received, comparison.qty_difference),
            (2.0, 1.0, -1.0),
        )
        self.assertTrue(notice.has_difference)
        with self.assertRaises(UserError):
            notice.action_create_return()

    def test_notice_completed_by_return_without_link(self):
        order = self._oms_shipped_order()
        line_1 = self._oms_sale_line(order, self.product_1)
        line_2 = self._oms_sale_line(order, self.product_2)
        notice_tshirt = self.env["oms.return.notice"].create(
            {"order_id": order.id, "line_ids": [Command.create({"sale_line_id": line_1.id})]}
        )
        notice_hoodie = self.env["oms.return.notice"].create(
            {"order_id": order.id, "line_ids": [Command.create({"sale_line_id": line_2.id})]}
        )
        ret = self._oms_new_return(order, [(self.product_1, 1)])
        self.assertFalse(ret.notice_id)
        ret.action_process()
        self.assertEqual(notice_tshirt.state, "completed")
        self.assertEqual(ret.notice_id, notice_tshirt)
        self.assertFalse(notice_tshirt.has_difference)
        self.assertEqual(notice_hoodie.state, "announced", "another product: not covered")

    def test_notice_quantities_checked(self):
        order = self._oms_shipped_order()
        line_1 = self._oms_sale_line(order, self.product_1)
        self.env["oms.return.notice"].create(
            {
                "order_id": order.id,
                "line_ids": [Command.create({"sale_line_id": line_1.id, "quantity": 1})],
            }
        )
        with self.assertRaises(ValidationError) as error:
            self.env["oms.return.notice"].create(
                {
                    "order_id": order.id,
                    "line_ids": [Command.create({"sale_line_id": line_1.id, "quantity": 2})],
                }
            )
        self.assertIn("at most 1.0 Units was shipped", str(error.exception))

    def test_notify_mail_sent(self):
        order = self._oms_shipped_order()
        ret = self._oms_new_return(order, [(self.product_1, 1)])
        last_message = self._oms_last_message_id()
        ret.action_process()
        mails, _notifications = self._oms_customer_mails(last_message)
        template = self.env.ref("nextchapter_oms.mail_template_oms_return_done")
        message = ret.message_ids.filtered(lambda m: self.customer in m.partner_ids)
        self.assertEqual(len(message), 1)
        self.assertEqual(
            message.subject,
            f"NextChapter Shop - Your return {ret.name} for order {order.name} has been processed",
        )
        self.assertIn(ret.credit_note_id.name, str(message.body))
        self.assertTrue(mails, "an e-mail goes to the customer")
        self.assertEqual(template.model_id.model, "oms.return")

    def test_notify_customer_off_sends_nothing(self):
        order = self._oms_shipped_order()
        ret = self._oms_new_return(order, [(self.product_1, 1)], notify_customer=False)
        last_message = self._oms_last_message_id()
        ret.action_process()
        self.assertEqual(ret.state, "done")
        self.assertTrue(ret.credit_note_id)
        mails, notifications = self._oms_customer_mails(last_message)
        self.assertFalse(mails, "no e-mail to the customer")
        self.assertFalse(notifications, "no notification to the customer")
        new_messages = self.env["mail.message"].search(
            [("id", ">", last_message), ("partner_ids", "in", self.customer.ids)]
        )
        self.assertFalse(new_messages)
        notes = ret.message_ids.filtered(lambda m: "the customer was not notified" in str(m.body))
        self.assertEqual(notes.subtype_id, self.env.ref("mail.mt_note"))

    def test_cancel_rules(self):
        order = self._oms_shipped_order()
        draft = self._oms_new_return(order, [(self.product_1, 1)])
        draft.action_cancel()
        self.assertEqual(draft.state, "cancelled")
        with self.assertRaises(UserError) as error:
            draft.action_process()
        self.assertIn("is processed or cancelled and cannot be changed", str(error.exception))
        done = self._oms_new_return(order, [(self.product_1, 1)], link_credit_note=False)
        done.action_process()
        with self.assertRaises(UserError) as error:
            done.action_cancel()
        self.assertIn("Only draft returns can be cancelled", str(error.exception))
        with self.assertRaises(UserError):
            done.line_ids.quantity = 2
        with self.assertRaises(UserError):
            done.unlink()
        # notices: only announced ones are cancelled, a cancelled one cannot be processed
        notice = self.env["oms.return.notice"].create(
            {
                "order_id": order.id,
                "line_ids": [
                    Command.create({"sale_line_id": self._oms_sale_line(order, self.product_2).id})
                ],
            }
        )
        ret = self._oms_new_return(order, [(self.product_2, 1)], notice_id=notice)
        notice.action_cancel()
        self.assertEqual(notice.state, "cancelled")
        with self.assertRaises(UserError) as error:
            notice.action_cancel()
        self.assertIn("Only announced return notices can be cancelled", str(error.exception))
        with self.assertRaises(UserError) as error:
            ret.action_process()
        self.assertIn("is cancelled: remove it from return", str(error.exception))

    def test_restock_default_setting(self):
        settings = Form(self.env["res.config.settings"])
        self.assertTrue(settings.oms_return_restock_default)
        settings.oms_return_restock_default = False
        settings.save().execute()
        self.assertFalse(self.company.oms_return_restock_default)
        order = self._oms_shipped_order()
        ret = self._oms_new_return(order, [(self.product_1, 1)])
        self.assertFalse(ret.restock)

    def test_access_oms_user_vs_portal(self):
        order = self._oms_shipped_order()
        # customer service (no accounting rights) processes a return with a credit note
        self.assertFalse(self.env["account.move"].with_user(self.oms_user).has_access("create"))
        ret = self._oms_new_return(order, [(self.product_1, 1)], user=self.oms_user)
        ret.with_user(self.oms_user).action_process()
        self.assertEqual(ret.state, "done")
        self.assertEqual(ret.credit_note_id.state, "posted")
        self.assertEqual(ret.return_picking_id.state, "done")
        # reasons are managed by OMS managers
        with self.assertRaises(AccessError):
            self.env["oms.return.reason"].with_user(self.oms_user).create({"name": "Other"})
        # a portal user reads or writes neither notices nor returns directly
        portal = self._oms_new_user("returns_portal", "base.group_portal")
        for model in ("oms.return", "oms.return.notice", "oms.return.reason"):
            with self.assertRaises(AccessError):
                self.env[model].with_user(portal).search([])
        with self.assertRaises(AccessError):
            self.env["oms.return.notice"].with_user(portal).create({"order_id": order.id})
        # a salesperson without the OMS group neither
        salesman = self._oms_new_user("returns_salesman", "sales_team.group_sale_salesman")
        with self.assertRaises(AccessError):
            ret.with_user(salesman).read(["name"])

    def test_credit_above_paid_refused(self):
        """The credit note ceiling of the Money part applies to returns, and a refused
        credit note leaves nothing of the return behind (no restock either)."""
        order = self._oms_create_order()
        invoice = self._oms_invoice(order)
        self._oms_register_payment(invoice, amount=100.0)
        self._oms_ship(order.picking_ids)
        self.assertEqual(order.oms_amount_paid, 100.0)
        ret = self._oms_new_return(order, [(self.product_1, 2)])
        pickings_before = order.picking_ids
        last_message = self._oms_last_message_id()
        with self.assertRaises(UserError) as error:
            ret.action_process()
        self.assertIn(
            f"Order {order.name} cannot be credited $\xa0200.00 more: only $\xa0100.00 was paid",
            str(error.exception),
        )
        self.assertEqual(ret.state, "draft")
        self.assertFalse(ret.return_picking_ids)
        self.assertFalse(ret.credit_note_id)
        self.assertEqual(order.picking_ids, pickings_before, "no return picking left behind")
        self.assertEqual(self._oms_sale_line(order, self.product_1).qty_delivered, 2.0)
        self.assertEqual(self._oms_stock(self.product_1), 98.0)
        mails, notifications = self._oms_customer_mails(last_message)
        self.assertFalse(mails | notifications.mail_mail_id)
        self.assertFalse(notifications)
        # within what was paid the credit note goes through
        ret.line_ids.quantity = 1.0
        ret.action_process()
        self.assertEqual(ret.state, "done")
        self.assertEqual(ret.credit_note_id.amount_total, 100.0)
        self.assertEqual(order.oms_amount_credited, 100.0)
        # the 100 paid is credited now: the next return cannot be credited
        second = self._oms_new_return(order, [(self.product_2, 1)])
        with self.assertRaises(UserError) as error:
            second.action_process()
        self.assertIn("cannot be credited", str(error.exception))
        self.assertFalse(second.return_picking_ids)
        self.assertEqual(self._oms_sale_line(order, self.product_2).qty_delivered, 1.0)

    def test_credit_note_of_a_paid_order_gets_its_refund(self):
        order = self._oms_shipped_order()
        ret = self._oms_new_return(order, [(self.product_1, 1), (self.product_2, 1)])
        ret.action_process()
        refund = ret.credit_note_id.oms_refund_ids
        self.assertEqual(len(refund), 1)
        self.assertEqual(refund.amount, 150.0)
        self.assertEqual(refund.mode, self.company.oms_refund_mode)
        self.assertEqual(refund.order_id, order)
