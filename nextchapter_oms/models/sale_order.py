import hashlib
import hmac
import json
import logging
import time
from collections import defaultdict
from datetime import timedelta

import requests

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.modules import module as odoo_module
from odoo.tools import SQL, format_amount

_logger = logging.getLogger(__name__)

OMS_STATES = [
    ("quotation", "Quotation"),
    ("awaiting_payment", "Awaiting payment"),
    ("awaiting_shipment", "Awaiting shipment"),
    ("partially_shipped", "Partially shipped"),
    ("shipped", "Shipped"),
    ("cancelled", "Cancelled"),
]


class SaleOrder(models.Model):
    _inherit = "sale.order"

    oms_state = fields.Selection(
        OMS_STATES,
        string="OMS Status",
        compute="_compute_oms_state",
        store=True,
        index=True,
        tracking=True,
        help="Quotation: not confirmed yet.\n"
        "Awaiting payment: confirmed, not paid, nothing shipped.\n"
        "Awaiting shipment: paid, nothing shipped.\n"
        "Partially shipped: some shipments shipped, others still open.\n"
        "Shipped: no shipment left open and at least one shipped.\n"
        "Cancelled: the order is cancelled.",
    )
    oms_amount_paid = fields.Monetary(
        string="Amount Paid",
        compute="_compute_oms_amount_paid",
        store=True,
        currency_field="currency_id",
        help="Money received for this order: done or authorised online payment "
        "transactions, plus other payments reconciled with its invoices.",
    )
    oms_is_paid = fields.Boolean(string="Paid", compute="_compute_oms_amount_paid", store=True)
    oms_customer_note = fields.Text(
        string="Customer Remarks",
        help="Remarks the customer left with the order.",
    )
    oms_memo = fields.Html(
        string="Memo",
        groups="nextchapter_oms.group_oms_user",
        help="Internal memo about this order. Never shown to the customer.",
    )
    oms_export_state = fields.Selection(
        [("pending", "Pending"), ("done", "Processed"), ("failed", "Failed")],
        string="Order Processed",
        copy=False,
        readonly=True,
        tracking=True,
        help="Whether the order was exported to the shop's external system.",
    )
    oms_export_date = fields.Datetime(string="Processed On", copy=False, readonly=True)
    oms_export_error = fields.Text(string="Export Error", copy=False, readonly=True)
    oms_shipment_ids = fields.One2many(
        "stock.picking",
        string="Shipments",
        compute="_compute_oms_shipment_ids",
    )
    oms_shipment_count = fields.Integer(
        string="Shipment Count", compute="_compute_oms_shipment_ids"
    )
    oms_item_line_ids = fields.One2many(
        "sale.order.line",
        string="Items",
        compute="_compute_oms_item_line_ids",
    )
    oms_can_edit_addresses = fields.Boolean(
        string="Addresses Editable", compute="_compute_oms_can_edit_addresses"
    )
    oms_can_cancel_items = fields.Boolean(
        string="Items Cancellable", compute="_compute_oms_can_cancel_items"
    )
    oms_mail_message_ids = fields.Many2many(
        "mail.message",
        string="E-mails Sent",
        compute="_compute_oms_mail_message_ids",
    )

    @api.depends(
        "currency_id",
        "amount_total",
        "transaction_ids.state",
        "transaction_ids.amount",
        "order_line.invoice_lines.move_id.state",
        "order_line.invoice_lines.move_id.amount_residual",
    )
    def _compute_oms_amount_paid(self):
        paid_by_order = self._oms_get_amounts_paid()
        for order in self:
            paid = paid_by_order.get(order.id, 0.0)
            order.oms_amount_paid = paid
            order.oms_is_paid = order.currency_id.compare_amounts(paid, order.amount_total) >= 0

    @api.depends(
        "state",
        "oms_is_paid",
        "picking_ids.oms_shipment_state",
    )
    def _compute_oms_state(self):
        for order in self:
            if order.state in ("draft", "sent"):
                order.oms_state = "quotation"
            elif order.state == "cancel":
                order.oms_state = "cancelled"
            else:
                shipment_states = set(order.picking_ids.mapped("oms_shipment_state"))
                if "shipped" in shipment_states:
                    order.oms_state = (
                        "partially_shipped" if "not_shipped" in shipment_states else "shipped"
                    )
                elif order.oms_is_paid:
                    order.oms_state = "awaiting_shipment"
                else:
                    order.oms_state = "awaiting_payment"

    @api.depends("picking_ids.oms_shipment_state")
    def _compute_oms_shipment_ids(self):
        for order in self:
            shipments = order.picking_ids.filtered("oms_shipment_state")
            order.oms_shipment_ids = shipments
            order.oms_shipment_count = len(shipments)

    @api.depends("order_line.display_type", "order_line.is_downpayment")
    def _compute_oms_item_line_ids(self):
        for order in self:
            order.oms_item_line_ids = order.order_line.filtered(
                lambda line: not line.display_type and not line.is_downpayment
            )

    @api.depends("state", "locked", "picking_ids.oms_shipment_state")
    def _compute_oms_can_edit_addresses(self):
        for order in self:
            order.oms_can_edit_addresses = order._oms_check_addresses_editable()

    @api.depends("state", "locked", "order_line.oms_qty_cancellable")
    def _compute_oms_can_cancel_items(self):
        for order in self:
            order.oms_can_cancel_items = (
                order.state == "sale"
                and not order.locked
                and any(
                    line.oms_qty_cancellable > 0
                    for line in order.order_line
                    if not line.display_type
                )
            )

    def _compute_oms_mail_message_ids(self):
        messages_by_order = defaultdict(lambda: self.env["mail.message"])
        if self.ids:
            messages = self.env["mail.message"].search(
                self._oms_mail_message_domain(), order="date desc, id desc"
            )
            for message in messages:
                messages_by_order[message.res_id] |= message
        for order in self:
            order.oms_mail_message_ids = messages_by_order[order.id]

    def write(self, vals):
        address_fields = {"partner_invoice_id", "partner_shipping_id"} & set(vals)
        if address_fields:
            self._oms_check_address_change(vals)
        if vals.get("partner_shipping_id") and not self.env.context.get(
            "update_delivery_shipping_partner"
        ):
            # Odoo only schedules a warning on the open pickings: carry the new
            # address to the shipments not done yet instead.
            confirmed = self.filtered(lambda o: o.state == "sale")
            others = self - confirmed
            if others:
                super(SaleOrder, others).write(vals)
            if confirmed:
                open_shipments = confirmed.picking_ids.filtered(
                    lambda p: p.state not in ("done", "cancel")
                )
                old_partners = {
                    picking: picking.partner_id
                    for picking in confirmed.picking_ids - open_shipments
                }
                super(
                    SaleOrder,
                    confirmed.with_context(update_delivery_shipping_partner=True),
                ).write(vals)
                # done and cancelled documents keep the address they went to
                for picking, partner in old_partners.items():
                    if picking.partner_id != partner:
                        picking.partner_id = partner
                if open_shipments:
                    new_partner = self.env["res.partner"].browse(vals["partner_shipping_id"])
                    for picking in open_shipments:
                        picking.message_post(
                            body=self.env._(
                                "Delivery address changed on the sales order: now %(address)s.",
                                address=new_partner.display_name,
                            )
                        )
            return True
        return super().write(vals)

    def action_confirm(self):
        res = super().action_confirm()
        self.filtered(lambda o: not o.oms_export_state).oms_export_state = "pending"
        return res

    def action_oms_cancel_items(self):
        self.ensure_one()
        self._oms_check_items_cancellable()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Cancel Items"),
            "res_model": "oms.line.cancel",
            "view_mode": "form",
            "target": "new",
            "context": {"default_order_id": self.id},
        }

    def action_oms_send_email(self):
        self.ensure_one()
        company = self.company_id
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send E-mail"),
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_model": self._name,
                "default_res_ids": self.ids,
                "default_composition_mode": "comment",
                "default_partner_ids": self.partner_id.ids,
                "default_subject": self.env._(
                    "%(company)s - Order %(order)s",
                    company=company.name,
                    order=self.name,
                ),
                "default_email_from": company.email_formatted or self.env.user.email_formatted,
                "default_email_layout_xmlid": "mail.mail_notification_layout",
                "oms_reply_to_company": True,
                "mark_so_as_sent": False,
            },
        }

    def _notify_get_reply_to(self, default=None):
        res = super()._notify_get_reply_to(default=default)
        if self.env.context.get("oms_reply_to_company"):
            for order in self:
                if order.company_id.email:
                    res[order.id] = order.company_id.email_formatted
        return res

    def _oms_mail_message_domain(self):
        return [
            ("model", "=", self._name),
            ("res_id", "in", self.ids),
            ("message_type", "in", ("comment", "email_outgoing")),
            ("subtype_id", "=", self.env.ref("mail.mt_comment").id),
            ("partner_ids", "!=", False),
        ]

    def _oms_check_addresses_editable(self):
        self.ensure_one()
        if self.state in ("draft", "sent"):
            return True
        if self.state != "sale" or self.locked:
            return False
        shipments = self.picking_ids.filtered("oms_shipment_state")
        if not shipments:
            return any(
                line.oms_qty_to_ship > 0 for line in self.order_line if not line.display_type
            )
        return "not_shipped" in shipments.mapped("oms_shipment_state")

    def _oms_check_address_change(self, vals):
        for order in self:
            changed = any(
                order[field].id != vals[field]
                for field in ("partner_invoice_id", "partner_shipping_id")
                if field in vals
            )
            if changed and order.state == "sale" and not order._oms_check_addresses_editable():
                raise UserError(
                    self.env._(
                        "The addresses of order %(order)s can no longer be changed: "
                        "nothing is left to ship.",
                        order=order.name,
                    )
                )

    def _oms_check_items_cancellable(self):
        for order in self:
            if order.state == "cancel":
                raise UserError(
                    self.env._(
                        "Order %(order)s is cancelled: its items cannot be cancelled.",
                        order=order.name,
                    )
                )
            if order.state != "sale":
                raise UserError(
                    self.env._(
                        "Only confirmed orders have items to cancel; "
                        "edit the quotation %(order)s instead.",
                        order=order.name,
                    )
                )
            if order.locked:
                raise UserError(
                    self.env._(
                        "Order %(order)s is locked: unlock it to cancel items.",
                        order=order.name,
                    )
                )

    def _oms_lock_rows(self):
        """Lock the orders' rows until the end of the transaction, so that two users
        or two workers acting on the same order are serialised."""
        if self.ids:
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM sale_order WHERE id IN %s FOR UPDATE",
                    tuple(self.ids),
                )
            )

    def _oms_get_amounts_paid(self):
        """Money received per order, in the order currency.

        Done or authorised online payment transactions of the order, plus the
        payments reconciled with its posted customer invoices that did not come from
        those transactions: each euro is counted once. Credit notes reconciled with
        an invoice are not payments and are left out.
        """
        result = defaultdict(float)
        orders = self.filtered("id")
        if not orders:
            return result
        counted_tx_ids = set()
        for order in orders:
            for tx in order.transaction_ids:
                if tx.state not in ("done", "authorized") or tx.operation == "refund":
                    continue
                counted_tx_ids.add(tx.id)
                result[order.id] += tx.currency_id._convert(
                    tx.amount,
                    order.currency_id,
                    order.company_id,
                    fields.Date.context_today(order),
                )
        invoice_orders = defaultdict(set)
        for order in orders:
            for line in order.order_line:
                for invoice in line.invoice_lines.move_id:
                    if invoice.move_type == "out_invoice" and invoice.state == "posted":
                        invoice_orders[invoice.id].add(order.id)
        if not invoice_orders:
            return result
        self.env["account.partial.reconcile"].flush_model()
        self.env["account.move.line"].flush_model(
            ["move_id", "account_id", "payment_id", "currency_id"]
        )
        self.env["account.move"].flush_model(["move_type", "currency_id"])
        self.env["account.account"].flush_model(["account_type"])
        self.env["account.payment"].flush_model(["payment_transaction_id"])
        rows = self.env.execute_query(
            SQL(
                """
                SELECT inv_line.move_id,
                       CASE WHEN part.debit_move_id = inv_line.id
                            THEN part.debit_amount_currency
                            ELSE part.credit_amount_currency END,
                       inv.currency_id,
                       pay.payment_transaction_id
                  FROM account_move_line inv_line
                  JOIN account_move inv ON inv.id = inv_line.move_id
                  JOIN account_account account ON account.id = inv_line.account_id
                  JOIN account_partial_reconcile part
                    ON part.debit_move_id = inv_line.id
                    OR part.credit_move_id = inv_line.id
                  JOIN account_move_line counterpart
                    ON counterpart.id = CASE WHEN part.debit_move_id = inv_line.id
                                             THEN part.credit_move_id
                                             ELSE part.debit_move_id END
                  JOIN account_move counterpart_move
                    ON counterpart_move.id = counterpart.move_id
             LEFT JOIN account_payment pay ON pay.id = counterpart.payment_id
                 WHERE inv_line.move_id IN %s
                   AND account.account_type = 'asset_receivable'
                   AND counterpart_move.move_type = 'entry'
                """,
                tuple(invoice_orders),
            )
        )
        orders_by_id = {order.id: order for order in orders}
        for invoice_id, amount, currency_id, tx_id in rows:
            if tx_id and tx_id in counted_tx_ids:
                continue
            currency = self.env["res.currency"].browse(currency_id)
            for order_id in invoice_orders[invoice_id]:
                order = orders_by_id[order_id]
                result[order_id] += currency._convert(
                    amount or 0.0,
                    order.currency_id,
                    order.company_id,
                    fields.Date.context_today(order),
                )
                # an invoice shared by several orders is counted for each of them
        return result

    # ------------------------------------------------------------------
    # Demo data
    # ------------------------------------------------------------------

    @api.model
    def _oms_demo_prepare(self):
        """Bring the demo orders into every OMS status with real flows: stock in two
        warehouses, confirmations, invoices and payments, shipments."""

        def ref(xmlid):
            return self.env.ref(f"nextchapter_oms.{xmlid}")

        main = self.env.ref("stock.warehouse0")
        rotterdam = ref("stock_warehouse_rotterdam_demo")
        quant = self.env["stock.quant"]
        for product, main_qty, rotterdam_qty in (
            (ref("product_tshirt_demo"), 50, 20),
            (ref("product_hoodie_demo"), 1, 10),
            (ref("product_mug_demo"), 100, 0),
        ):
            quant._update_available_quantity(product, main.lot_stock_id, main_qty)
            if rotterdam_qty:
                quant._update_available_quantity(product, rotterdam.lot_stock_id, rotterdam_qty)
        orders = {
            name: ref(f"sale_order_{name}_demo")
            for name in (
                "awaiting_payment",
                "awaiting_shipment",
                "partially_shipped",
                "shipped",
                "shipped_b2b",
                "cancelled",
            )
        }
        self.browse([o.id for o in orders.values()]).action_confirm()
        for name in ("awaiting_shipment", "shipped"):
            invoice = orders[name]._create_invoices()
            invoice.action_post()
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({})._create_payments()
        for name in ("partially_shipped", "shipped", "shipped_b2b"):
            pickings = orders[name].picking_ids
            pickings.action_assign()
            for move in pickings.move_ids:
                move.picked = True
            pickings.with_context(cancel_backorder=False)._action_done()
        orders["cancelled"]._action_cancel()

    # ---- Fulfilment ----

    oms_allocation_ids = fields.One2many(
        "oms.allocation", "order_id", string="Allocations", readonly=True
    )
    oms_allocation_count = fields.Integer(
        string="Allocation Count", compute="_compute_oms_allocation_count"
    )
    oms_pick_line_ids = fields.Many2many(
        "stock.move.line",
        string="Pick Lines",
        compute="_compute_oms_pick_line_ids",
        help="What the warehouse picks for the open shipments, by bin location.",
    )
    oms_pick_line_count = fields.Integer(
        string="Pick Line Count", compute="_compute_oms_pick_line_ids"
    )
    oms_can_allocate = fields.Boolean(string="Can Allocate", compute="_compute_oms_can_allocate")

    @api.depends("oms_allocation_ids")
    def _compute_oms_allocation_count(self):
        for order in self:
            order.oms_allocation_count = len(order.oms_allocation_ids)

    @api.depends("picking_ids.move_line_ids", "picking_ids.state")
    def _compute_oms_pick_line_ids(self):
        for order in self:
            lines = order.picking_ids.filtered(
                lambda p: p.picking_type_code == "outgoing" and p.state not in ("done", "cancel")
            ).move_line_ids.sorted(lambda ml: (ml.location_id.complete_name or "", ml.id))
            order.oms_pick_line_ids = lines
            order.oms_pick_line_count = len(lines)

    @api.depends("state", "locked", "order_line.oms_qty_to_ship")
    def _compute_oms_can_allocate(self):
        for order in self:
            order.oms_can_allocate = (
                order.state == "sale"
                and not order.locked
                and any(line.oms_qty_to_ship > 0 for line in order.order_line)
            )

    def action_oms_allocate(self):
        """Allocate again what is neither reserved nor shipped (e.g. after stock
        arrived). Idempotent."""
        self.env["oms.allocation"]._oms_check_access()
        for order in self:
            if order.state == "cancel":
                raise UserError(
                    self.env._(
                        "Order %(order)s is cancelled: it cannot be allocated.",
                        order=order.name,
                    )
                )
            if order.state != "sale":
                raise UserError(
                    self.env._(
                        "Order %(order)s is not confirmed: confirm it to allocate it.",
                        order=order.name,
                    )
                )
            if order.locked:
                raise UserError(
                    self.env._(
                        "Order %(order)s is locked: unlock it to allocate it.",
                        order=order.name,
                    )
                )
        self._oms_lock_rows()
        before = {order.id: order._oms_allocation_snapshot() for order in self}
        self.env["oms.allocation"]._oms_reallocate(self)
        self.env.flush_all()
        for order in self:
            order.invalidate_recordset(["oms_allocation_ids"])
            if order._oms_allocation_snapshot() != before[order.id]:
                order.message_post(body=self.env["oms.allocation"]._oms_summary(order))
        return True

    def action_oms_view_allocations(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "nextchapter_oms.oms_allocation_action"
        )
        action["domain"] = [("order_id", "=", self.id)]
        action["context"] = {"search_default_group_warehouse": 1}
        return action

    def action_oms_view_pick_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "nextchapter_oms.stock_move_line_action_pick_list"
        )
        action["domain"] = [("id", "in", self.oms_pick_line_ids.ids)]
        action["context"] = {"search_default_group_picking": 1}
        return action

    def action_oms_print_pick_list(self):
        self.ensure_one()
        shipments = self.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state not in ("done", "cancel")
        )
        if not shipments:
            raise UserError(
                self.env._("Order %(order)s has no open shipment to pick.", order=self.name)
            )
        return self.env.ref("nextchapter_oms.action_report_oms_pick_list").report_action(
            shipments, config=False
        )

    def _oms_allocation_snapshot(self):
        self.ensure_one()
        return sorted(
            (alloc.sale_line_id.id, alloc.warehouse_id.id, alloc.quantity, alloc.state)
            for alloc in self.oms_allocation_ids
        )

    # ---- Money ----

    oms_invoice_ids = fields.Many2many(
        "account.move",
        string="Invoices and Credit Notes",
        compute="_compute_oms_money",
        help="The order's customer invoices, and the customer credit notes linked to it "
        "(by their lines, or as the reversal of one of its invoices).",
    )
    oms_amount_credited = fields.Monetary(
        string="Amount Credited",
        compute="_compute_oms_money",
        currency_field="currency_id",
        help="Posted customer credit notes linked to the order, in the order currency.",
    )
    oms_creditable_amount = fields.Monetary(
        string="Creditable Amount",
        compute="_compute_oms_money",
        currency_field="currency_id",
        help="What can still be credited: the amount paid minus the amount credited.",
    )
    oms_can_credit_note = fields.Boolean(
        string="Credit Note Possible",
        compute="_compute_oms_money",
        help="The order is confirmed, invoiced and paid for more than was credited.",
    )
    oms_refund_ids = fields.One2many(
        "oms.refund", "order_id", string="Refunds", groups="nextchapter_oms.group_oms_user"
    )
    oms_refund_count = fields.Integer(
        string="Refund Count",
        compute="_compute_oms_refund_count",
        groups="nextchapter_oms.group_oms_user",
    )

    @api.depends(
        "state",
        "oms_amount_paid",
        "order_line.invoice_lines.move_id.state",
        "order_line.invoice_lines.move_id.amount_total",
    )
    def _compute_oms_money(self):
        moves_by_order = self._oms_get_linked_moves()
        credited_by_order = self._oms_get_amounts_credited(moves_by_order)
        for order in self:
            moves = moves_by_order.get(order.id, self.env["account.move"])
            credited = credited_by_order.get(order.id, 0.0)
            order.oms_invoice_ids = moves.sorted(lambda m: (m.invoice_date or m.date, m.id))
            order.oms_amount_credited = credited
            order.oms_creditable_amount = order.oms_amount_paid - credited
            order.oms_can_credit_note = (
                order.state == "sale"
                and any(m.move_type == "out_invoice" and m.state == "posted" for m in moves)
                and order.currency_id.compare_amounts(order.oms_amount_paid, credited) > 0
            )

    @api.depends("oms_refund_ids")
    def _compute_oms_refund_count(self):
        for order in self:
            order.oms_refund_count = len(order.oms_refund_ids)

    def action_oms_create_credit_note(self):
        """Open the standalone credit note wizard (money back without a returned item)."""
        self.ensure_one()
        self._oms_check_can_credit_note()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Credit Note"),
            "res_model": "oms.credit.note.create",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_order_id": self.id},
        }

    def action_oms_view_refunds(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("nextchapter_oms.oms_refund_action")
        action["domain"] = [("order_id", "=", self.id)]
        action["context"] = {}
        return action

    def _oms_check_can_credit_note(self):
        for order in self:
            if order.state != "sale":
                raise UserError(
                    self.env._(
                        "Only confirmed orders can be credited; %(order)s is not.",
                        order=order.name,
                    )
                )
            if not order._oms_get_invoices().filtered(lambda m: m.state == "posted"):
                raise UserError(
                    self.env._("Order %(order)s has no posted invoice to credit.", order=order.name)
                )
            order._oms_check_credit_ceiling(0.0, strict=True)

    def _oms_get_invoices(self):
        """The order's customer invoices (not credit notes), any status."""
        return self.order_line.invoice_lines.move_id.filtered(
            lambda m: m.move_type == "out_invoice"
        )

    def _oms_get_linked_moves(self):
        """Customer invoices and credit notes of each order: ``{order_id: moves}``.

        A credit note belongs to an order when one of its lines is linked to the order's
        lines (Odoo's reversal of a sale invoice keeps them, so do returns) or when it
        reverses one of the order's invoices. Two queries for any number of orders."""
        result = defaultdict(lambda: self.env["account.move"])
        orders = self.filtered("id")
        if not orders:
            return result
        self.env["sale.order.line"].flush_model(["order_id", "invoice_lines"])
        self.env["account.move.line"].flush_model(["move_id"])
        self.env["account.move"].flush_model(["move_type", "reversed_entry_id"])
        rows = self.env.execute_query(
            SQL(
                """
                SELECT sol.order_id, aml.move_id
                  FROM sale_order_line sol
                  JOIN sale_order_line_invoice_rel rel ON rel.order_line_id = sol.id
                  JOIN account_move_line aml ON aml.id = rel.invoice_line_id
                  JOIN account_move move ON move.id = aml.move_id
                 WHERE sol.order_id IN %(orders)s
                   AND move.move_type IN ('out_invoice', 'out_refund')
                 UNION
                SELECT sol.order_id, refund.id
                  FROM sale_order_line sol
                  JOIN sale_order_line_invoice_rel rel ON rel.order_line_id = sol.id
                  JOIN account_move_line aml ON aml.id = rel.invoice_line_id
                  JOIN account_move refund ON refund.reversed_entry_id = aml.move_id
                 WHERE sol.order_id IN %(orders)s
                   AND refund.move_type = 'out_refund'
                """,
                orders=tuple(orders.ids),
            )
        )
        move_ids_by_order = defaultdict(list)
        for order_id, move_id in rows:
            move_ids_by_order[order_id].append(move_id)
        for order_id, move_ids in move_ids_by_order.items():
            result[order_id] = self.env["account.move"].browse(move_ids)
        return result

    def _oms_get_amounts_credited(self, moves_by_order=None):
        """Posted customer credit notes per order, in the order currency.

        A credit note linked to one order counts in full for it. One spanning several orders
        counts its lines linked to each order; lines linked to none count for each of them
        (never less than credited)."""
        result = defaultdict(float)
        if moves_by_order is None:
            moves_by_order = self._oms_get_linked_moves()
        credit_note_orders = defaultdict(lambda: self.env["sale.order"])
        for order in self:
            moves = moves_by_order.get(order.id, self.env["account.move"])
            for move in moves.filtered(
                lambda m: m.move_type == "out_refund" and m.state == "posted"
            ):
                credit_note_orders[move] |= order
        for move, orders in credit_note_orders.items():
            for order, amount in move._oms_get_amounts_by_order(orders).items():
                result[order.id] += amount
        return result

    def _oms_get_amounts_refunded(self, exclude=None):
        """Refunds per order that left or are leaving, in the order currency: OMS refunds
        processing or done (without those in ``exclude``), plus refunds of the order's payment
        transactions made outside the OMS (e.g. with Odoo's own refund wizard)."""
        result = defaultdict(float)
        all_refunds = self.env["oms.refund"].sudo().search([("order_id", "in", self.ids)])
        refunds = all_refunds.filtered(lambda r: r.state in ("processing", "done"))
        if exclude:
            refunds -= exclude
        for refund in refunds:
            result[refund.order_id.id] += refund._oms_amount_in_order_currency()
        oms_refund_txs = all_refunds.refund_transaction_id
        for order in self.sudo():
            for tx in order.transaction_ids.child_transaction_ids:
                if (
                    tx.operation == "refund"
                    and tx.state not in ("cancel", "error")
                    and tx not in oms_refund_txs
                ):
                    result[order.id] += tx.currency_id._convert(
                        -tx.amount,
                        order.currency_id,
                        order.company_id,
                        fields.Date.context_today(order),
                    )
        return result

    def _oms_check_credit_ceiling(self, extra_amount=0.0, strict=False):
        """Refuse crediting ``extra_amount`` (order currency) more on this order when the
        order's posted credit notes would then exceed what was paid for it.

        Public helper for every part that credits an order (the credit note wizard, returns,
        the posting of any customer credit note). It locks the order's row and marks it
        updated, so that of two transactions crediting the same order at once the second
        waits for the first and then fails to serialise (and is retried by Odoo) instead of
        passing the check on data that no longer holds. ``strict``: refuse when nothing is
        left to credit even if ``extra_amount`` is zero."""
        self.ensure_one()
        self._oms_lock_for_credit()
        self._oms_check_credit_ceilings({self: extra_amount}, strict=strict)

    def _oms_lock_for_credit(self):
        if not self.ids:
            return
        self._oms_lock_rows()
        # A plain row lock does not stop a REPEATABLE READ transaction that took its snapshot
        # earlier from reading stale credit notes once the lock is released: updating the row
        # makes such a transaction fail to serialise instead.
        self.env.cr.execute(
            SQL("UPDATE sale_order SET write_date = write_date WHERE id IN %s", tuple(self.ids))
        )

    def _oms_check_credit_ceilings(self, extra_by_order, strict=False):
        """Check ``{order: extra amount in order currency}`` against the ceiling (rows
        must be locked by the caller)."""
        orders = self.browse([order.id for order in extra_by_order])
        paid_by_order = orders._oms_get_amounts_paid()
        credited_by_order = orders._oms_get_amounts_credited()
        for order in orders:
            extra = extra_by_order.get(order, 0.0)
            paid = paid_by_order.get(order.id, 0.0)
            credited = credited_by_order.get(order.id, 0.0) + extra
            currency = order.currency_id
            if currency.is_zero(paid) and (strict or not currency.is_zero(credited)):
                raise UserError(
                    self.env._(
                        "Order %(order)s has not been paid: cancel its unpaid invoice instead "
                        "of crediting it.",
                        order=order.name,
                    )
                )
            if currency.compare_amounts(credited, paid) > 0:
                raise UserError(
                    self.env._(
                        "Order %(order)s cannot be credited %(amount)s more: only %(paid)s was "
                        "paid for it, %(credited)s of which is credited already.",
                        order=order.name,
                        amount=order._oms_format_amount(extra),
                        paid=order._oms_format_amount(paid),
                        credited=order._oms_format_amount(credited - extra),
                    )
                )
            if strict and currency.compare_amounts(credited, paid) >= 0:
                raise UserError(
                    self.env._(
                        "Order %(order)s has nothing left to credit: the %(paid)s paid for it "
                        "is credited already.",
                        order=order.name,
                        paid=order._oms_format_amount(paid),
                    )
                )

    def _oms_format_amount(self, amount):
        self.ensure_one()
        return format_amount(self.env, amount, self.currency_id)

    # ---- Returns ----

    oms_return_notice_ids = fields.One2many(
        "oms.return.notice",
        "order_id",
        string="Return Notices",
        groups="nextchapter_oms.group_oms_user",
    )
    oms_return_ids = fields.One2many(
        "oms.return",
        "order_id",
        string="Returns",
        groups="nextchapter_oms.group_oms_user",
    )
    oms_return_count = fields.Integer(
        string="Return Count",
        compute="_compute_oms_return_count",
        groups="nextchapter_oms.group_oms_user",
    )
    oms_can_return = fields.Boolean(
        string="Items Returnable",
        compute="_compute_oms_can_return",
        help="Something was shipped and not returned yet.",
    )

    @api.depends("oms_return_ids")
    def _compute_oms_return_count(self):
        for order in self:
            order.oms_return_count = len(order.oms_return_ids)

    @api.depends("state", "order_line.qty_delivered")
    def _compute_oms_can_return(self):
        returnable = self.env["oms.return"]._oms_get_returnable_quantities(
            self.order_line.filtered(lambda line: not line.display_type and not line.is_delivery)
        )
        for order in self:
            order.oms_can_return = order.state == "sale" and any(
                returnable.get(line.id, 0.0) > 0 for line in order.order_line
            )

    def action_oms_return(self):
        """Open a new return of the order's shipped items."""
        self.ensure_one()
        if not self.oms_can_return:
            raise UserError(
                self.env._("Order %(order)s has no shipped items left to return.", order=self.name)
            )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Return"),
            "res_model": "oms.return",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "context": {"default_order_id": self.id, "default_company_id": self.company_id.id},
        }

    def action_oms_view_returns(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("nextchapter_oms.oms_return_action")
        action["domain"] = [("order_id", "=", self.id)]
        action["context"] = {"default_order_id": self.id}
        return action

    def _oms_portal_can_return(self):
        """Whether the customer can announce a return of this order on the portal."""
        self.ensure_one()
        return self.state == "sale" and bool(
            self.env["oms.return.notice"].sudo()._oms_get_announceable_quantities(self.sudo())
        )

    # ---- Integrations ----

    # orders exported per chunk (one transaction, committed by the cron) and per cron run
    _oms_export_batch_size = 10
    _oms_export_run_limit = 200
    # minutes to wait before the next try, by number of failed attempts (the last repeats)
    _oms_export_backoff = (5, 15, 60, 240, 720, 1440)

    oms_export_revision = fields.Integer(
        string="Export Revision",
        default=1,
        copy=False,
        readonly=True,
        help="Raised when a processed order is exported again; the idempotency key of "
        "an export is the order number and this revision.",
    )
    oms_export_attempts = fields.Integer(
        string="Export Attempts",
        copy=False,
        readonly=True,
        help="Attempts to export the current revision.",
    )
    oms_export_next_try = fields.Datetime(
        string="Next Export Try",
        copy=False,
        readonly=True,
        help="A failed export is tried again from this moment on.",
    )
    oms_can_export_again = fields.Boolean(
        string="Can Be Exported Again", compute="_compute_oms_can_export_again"
    )

    @api.depends("oms_export_state")
    def _compute_oms_can_export_again(self):
        for order in self:
            order.oms_can_export_again = order.oms_export_state in ("done", "failed")

    def action_oms_export_again(self):
        """Queue the orders for a new export: a processed order gets a new revision
        (a new idempotency key), a failed one is retried with the same key."""
        self._oms_lock_rows()
        self.invalidate_recordset(
            ["oms_export_state", "oms_export_revision", "oms_export_attempts"]
        )
        for order in self:
            if not order.oms_can_export_again:
                if order.oms_export_state == "pending":
                    message = self.env._(
                        "Order %(order)s is already waiting to be exported.", order=order.name
                    )
                else:
                    message = self.env._(
                        "Order %(order)s is not confirmed: there is nothing to export.",
                        order=order.name,
                    )
                raise UserError(message)
        for order in self:
            vals = {
                "oms_export_state": "pending",
                "oms_export_attempts": 0,
                "oms_export_next_try": False,
                "oms_export_error": False,
            }
            if order.oms_export_state == "done":
                vals["oms_export_revision"] = order.oms_export_revision + 1
            order.write(vals)
        self.env.ref("nextchapter_oms.ir_cron_oms_export").sudo()._trigger()
        return True

    @api.model
    def _cron_export_orders(self):
        """Export the pending and due failed orders of the companies that configured
        the export, in chunks; clean up old integration logs.

        Each chunk is committed on purpose: the external system has received those
        orders, so their results must survive a failure of a later chunk. A retry
        after a crash resends the same idempotency key, which the receiver ignores.
        """
        more_logs = self.env["oms.integration.log"]._oms_cleanup()
        self._oms_commit()
        companies = (
            self.env["res.company"]
            .sudo()
            .search(
                [
                    ("oms_export_enabled", "=", True),
                    ("oms_export_url", "!=", False),
                    ("oms_export_secret", "!=", False),
                ]
            )
        )
        more_orders = False
        if companies:
            domain = [
                ("oms_export_state", "in", ("pending", "failed")),
                ("company_id", "in", companies.ids),
                "|",
                ("oms_export_next_try", "=", False),
                ("oms_export_next_try", "<=", fields.Datetime.now()),
            ]
            orders_model = self.sudo()
            last_id = 0
            exported = 0
            while exported < self._oms_export_run_limit:
                orders = orders_model.search(
                    [*domain, ("id", ">", last_id)],
                    order="id",
                    limit=self._oms_export_batch_size,
                )
                if not orders:
                    break
                last_id = orders[-1].id
                exported += len(orders._oms_export())
                self._oms_commit()
            else:
                more_orders = bool(orders_model.search([*domain, ("id", ">", last_id)], limit=1))
        if more_logs or more_orders:
            self.env.ref("nextchapter_oms.ir_cron_oms_export").sudo()._trigger()

    def _oms_commit(self):
        # the export cron commits per chunk on purpose, see _cron_export_orders
        if not odoo_module.current_test:
            self.env.cr.commit()  # pylint: disable=invalid-commit

    def _oms_export(self):
        """Export a chunk of orders; return the orders tried. Orders locked by another
        transaction (an export running elsewhere) are left for the next run, and one
        bad order never stops the others."""
        if not self.ids:
            return self
        rows = self.env.execute_query(
            SQL(
                "SELECT id FROM sale_order WHERE id IN %s FOR UPDATE SKIP LOCKED",
                tuple(self.ids),
            )
        )
        orders = self.browse([row[0] for row in rows])
        orders.invalidate_recordset(
            [
                "oms_export_state",
                "oms_export_revision",
                "oms_export_attempts",
                "oms_export_next_try",
            ]
        )
        now = fields.Datetime.now()
        orders = orders.filtered(
            lambda o: (
                o.oms_export_state in ("pending", "failed")
                and (not o.oms_export_next_try or o.oms_export_next_try <= now)
            )
        )
        log_vals = [order._oms_export_one() for order in orders]
        self.env["oms.integration.log"]._oms_log(log_vals)
        return orders

    def _oms_export_one(self):
        """POST the order to the company's export URL and record the result; return
        the values of its integration log."""
        self.ensure_one()
        company = self.company_id.sudo()
        url = company.oms_export_url
        key = self._oms_export_idempotency_key()
        status = 0
        error = False
        start = time.monotonic()
        try:
            with self.env.cr.savepoint():
                body = self._oms_export_body()
            signature = hmac.new(
                company.oms_export_secret.encode(), body, hashlib.sha256
            ).hexdigest()
            response = requests.post(
                url,
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-OMS-Signature": signature,
                    "X-OMS-Idempotency-Key": key,
                },
                timeout=company.oms_export_timeout,
                allow_redirects=False,
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = self.env._(
                    "The external system answered HTTP %(status)s: %(answer)s",
                    status=status,
                    answer=response.text[:500],
                )
        except requests.Timeout:
            error = self.env._(
                "The external system did not answer within %(timeout)s seconds.",
                timeout=company.oms_export_timeout,
            )
        except requests.RequestException as exc:
            error = self.env._(
                "The external system could not be reached: %(error)s", error=str(exc)
            )
        except Exception as exc:  # one bad order must not stop the others
            _logger.exception("Order %s could not be exported", self.name)
            error = self.env._("The order could not be exported: %(error)s", error=str(exc))
        duration = (time.monotonic() - start) * 1000
        attempts = self.oms_export_attempts + 1
        now = fields.Datetime.now()
        if error:
            backoff = self._oms_export_backoff[min(attempts, len(self._oms_export_backoff)) - 1]
            self.write(
                {
                    "oms_export_state": "failed",
                    "oms_export_error": error,
                    "oms_export_attempts": attempts,
                    "oms_export_next_try": now + timedelta(minutes=backoff),
                }
            )
        else:
            self.write(
                {
                    "oms_export_state": "done",
                    "oms_export_date": now,
                    "oms_export_error": False,
                    "oms_export_attempts": attempts,
                    "oms_export_next_try": False,
                }
            )
        return {
            "company_id": company.id,
            "direction": "outgoing",
            "endpoint": url,
            "reference": key,
            "status_code": status,
            "duration": duration,
            "error": error,
            "order_id": self.id,
        }

    def _oms_export_idempotency_key(self):
        self.ensure_one()
        return f"{self.name}-{self.oms_export_revision}"

    def _oms_export_body(self):
        self.ensure_one()
        payload = self._oms_prepare_export_payload()
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def _oms_prepare_export_payload(self):
        """The order as the external system receives it (documented in README.md).
        Reads go through the recordset's prefetch: a chunk of orders costs the same
        number of queries as one."""
        self.ensure_one()
        currency = self.currency_id

        def amount(value):
            return currency.round(value)

        def timestamp(value):
            return value.replace(microsecond=0).isoformat() + "Z" if value else None

        def address(partner):
            return {
                "id": partner.id,
                "name": partner.name or partner.commercial_company_name or "",
                "company": partner.commercial_company_name or None,
                "street": partner.street or None,
                "street2": partner.street2 or None,
                "zip": partner.zip or None,
                "city": partner.city or None,
                "state": partner.state_id.code or None,
                "country": partner.country_id.code or None,
                "email": partner.email or None,
                "phone": partner.phone or partner.mobile or None,
            }

        if currency.compare_amounts(self.oms_amount_paid, self.amount_total) >= 0:
            payment_state = "paid"
        elif currency.compare_amounts(self.oms_amount_paid, 0.0) > 0:
            payment_state = "partial"
        else:
            payment_state = "not_paid"
        customer = self.partner_id
        return {
            "order": self.name,
            "revision": self.oms_export_revision,
            "reference": self.client_order_ref or None,
            "company": self.company_id.name,
            "status": self.oms_state,
            "date_order": timestamp(self.date_order),
            "date_created": timestamp(self.create_date),
            "currency": currency.name,
            "customer": {
                "id": customer.id,
                "ref": customer.ref or None,
                "name": customer.name or "",
                "email": customer.email or None,
                "phone": customer.phone or customer.mobile or None,
                "vat": customer.vat or None,
            },
            "invoice_address": address(self.partner_invoice_id),
            "delivery_address": address(self.partner_shipping_id),
            "carrier": self.carrier_id.name or None,
            "customer_note": self.oms_customer_note or None,
            "lines": [
                {
                    "id": line.id,
                    "sku": line.product_id.default_code or None,
                    "barcode": line.product_id.barcode or None,
                    "product": line.product_id.name or None,
                    "description": line.name,
                    "quantity": line.product_uom_qty,
                    "quantity_cancelled": line.oms_qty_cancelled,
                    "unit": line.product_uom.name,
                    "price_unit": line.price_unit,
                    "discount": line.discount,
                    "subtotal": amount(line.price_subtotal),
                    "tax": amount(line.price_tax),
                    "total": amount(line.price_total),
                    "is_delivery": line.is_delivery,
                }
                for line in self.order_line
                if not line.display_type
            ],
            "totals": {
                "untaxed": amount(self.amount_untaxed),
                "tax": amount(self.amount_tax),
                "total": amount(self.amount_total),
                "paid": amount(self.oms_amount_paid),
            },
            "payment_state": payment_state,
        }
