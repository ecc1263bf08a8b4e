from collections import defaultdict

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, float_compare, float_is_zero
from odoo.tools.misc import clean_context

RETURN_STATES = [
    ("draft", "Draft"),
    ("done", "Done"),
    ("cancelled", "Cancelled"),
]


class OmsReturn(models.Model):
    _name = "oms.return"
    _description = "Return"
    _inherit = ["oms.order.document", "mail.thread", "mail.activity.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True
    _oms_sequence_code = "oms.return"

    def _default_restock(self):
        return self.env.company.oms_return_restock_default

    currency_id = fields.Many2one(related="order_id.currency_id")
    notice_id = fields.Many2one(
        "oms.return.notice",
        string="Return Notice",
        index=True,
        copy=False,
        check_company=True,
        tracking=True,
        domain="[('order_id', '=', order_id), ('state', '=', 'announced')]",
        help="The customer's notice this return completes.",
    )
    line_ids = fields.One2many("oms.return.line", "return_id", string="Returned Items", copy=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now, copy=False)
    date_done = fields.Datetime(string="Processed On", readonly=True, copy=False)
    restock = fields.Boolean(
        default=_default_restock,
        tracking=True,
        help="Put the returned items back into stock with a validated return of the "
        "order's shipments. Without it, no stock moves.",
    )
    link_credit_note = fields.Boolean(
        string="Credit Note",
        default=True,
        tracking=True,
        help="Create and post a credit note for the returned items (and corrections).",
    )
    refund_shipping = fields.Boolean(
        default=False,
        tracking=True,
        help="Also credit the order's shipping costs.",
    )
    notify_customer = fields.Boolean(
        default=True,
        tracking=True,
        help="E-mail the customer when the return is processed. Without it the customer "
        "receives no message at all about the return.",
    )
    state = fields.Selection(
        RETURN_STATES,
        string="Status",
        required=True,
        default="draft",
        copy=False,
        index=True,
        tracking=True,
    )
    return_picking_ids = fields.Many2many(
        "stock.picking",
        "oms_return_stock_picking_rel",
        "return_id",
        "picking_id",
        string="Return Pickings",
        readonly=True,
        copy=False,
    )
    return_picking_id = fields.Many2one(
        "stock.picking",
        compute="_compute_return_picking_id",
        help="The incoming return of the order's shipments (the first one when the "
        "items came from several warehouses).",
    )
    return_picking_count = fields.Integer(compute="_compute_return_picking_id")
    credit_note_id = fields.Many2one(
        "account.move",
        string="Credit Note Created",
        readonly=True,
        copy=False,
        check_company=True,
    )
    shipping_amount = fields.Monetary(
        string="Shipping Refund",
        compute="_compute_shipping_amount",
        store=True,
        readonly=False,
        precompute=True,
        currency_field="currency_id",
        help="The order's shipping costs as invoiced, credited when Refund Shipping is set.",
    )
    amount_total = fields.Monetary(
        string="Total",
        compute="_compute_amount_total",
        store=True,
        currency_field="currency_id",
        tracking=True,
        help="Amounts of the returned items plus corrections, plus the shipping costs "
        "when they are refunded.",
    )
    note = fields.Text(string="Internal Note")

    @api.depends("return_picking_ids")
    def _compute_return_picking_id(self):
        for ret in self:
            ret.return_picking_id = ret.return_picking_ids[:1]
            ret.return_picking_count = len(ret.return_picking_ids)

    @api.depends("refund_shipping", "order_id")
    def _compute_shipping_amount(self):
        for ret in self:
            ret.shipping_amount = ret._oms_get_shipping_amount() if ret.refund_shipping else 0.0

    @api.depends("line_ids.subtotal", "shipping_amount", "refund_shipping")
    def _compute_amount_total(self):
        for ret in self:
            total = sum(ret.line_ids.mapped("subtotal"))
            if ret.refund_shipping:
                total += ret.shipping_amount
            ret.amount_total = total

    @api.onchange("notice_id")
    def _onchange_notice_id(self):
        if self.notice_id and not self.line_ids:
            self.line_ids = [
                Command.create(line._prepare_return_line_vals()) for line in self.notice_id.line_ids
            ]

    @api.constrains("notice_id", "order_id")
    def _check_notice_order(self):
        for ret in self:
            if ret.notice_id and ret.notice_id.order_id != ret.order_id:
                raise ValidationError(
                    self.env._(
                        "Return notice %(notice)s belongs to another order than %(order)s.",
                        notice=ret.notice_id.name,
                        order=ret.order_id.name,
                    )
                )

    def write(self, vals):
        protected = set(vals) & {
            "order_id",
            "line_ids",
            "restock",
            "link_credit_note",
            "refund_shipping",
            "shipping_amount",
        }
        if protected and not self.env.context.get("oms_return_processing"):
            self._oms_check_draft()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_done(self):
        for ret in self:
            if ret.state == "done":
                raise UserError(
                    self.env._("Return %(name)s is processed and cannot be deleted.", name=ret.name)
                )

    # ------------------------------------------------------------------
    # actions
    # ------------------------------------------------------------------

    def action_process(self):
        """Process the returns, each one all-or-nothing: check the quantities, return
        the items into stock, credit them, e-mail the customer, complete the notice."""
        # the defaults of the action that opened the return are not for the pickings,
        # credit notes and messages it creates
        for ret in self.with_context(clean_context(self.env.context)):  # pylint: disable=context-overridden
            with self.env.cr.savepoint():
                ret._oms_process()
        return True

    def action_cancel(self):
        for ret in self:
            if ret.state != "draft":
                raise UserError(
                    self.env._(
                        "Only draft returns can be cancelled; return %(name)s is %(state)s.",
                        name=ret.name,
                        state=dict(self._fields["state"]._description_selection(self.env))[
                            ret.state
                        ],
                    )
                )
        self.state = "cancelled"
        return True

    def action_view_return_pickings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("stock.action_picking_tree_all")
        action["domain"] = [("id", "in", self.return_picking_ids.ids)]
        action["context"] = {}
        if len(self.return_picking_ids) == 1:
            action.update(
                {
                    "view_mode": "form",
                    "views": [(False, "form")],
                    "res_id": self.return_picking_ids.id,
                }
            )
        return action

    def action_view_credit_note(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Credit Note"),
            "res_model": "account.move",
            "view_mode": "form",
            "views": [(False, "form")],
            "res_id": self.credit_note_id.id,
        }

    # ------------------------------------------------------------------
    # business methods
    # ------------------------------------------------------------------

    @api.model
    def _oms_get_returnable_quantities(self, sale_lines):
        """Quantity per sale line id that can still be returned: delivered (Odoo
        already subtracts the items returned into stock) less the items of processed
        returns that were not restocked."""
        result = {line.id: line.qty_delivered for line in sale_lines}
        if not sale_lines:
            return result
        groups = (
            self.env["oms.return.line"]
            .sudo()
            ._read_group(
                [
                    ("sale_line_id", "in", sale_lines.ids),
                    ("return_id.state", "=", "done"),
                    ("return_id.restock", "=", False),
                ],
                ["sale_line_id"],
                ["quantity:sum"],
            )
        )
        for sale_line, quantity in groups:
            result[sale_line.id] -= quantity
        return result

    def _oms_check_draft(self):
        for ret in self:
            if ret.state != "draft":
                raise UserError(
                    self.env._(
                        "Return %(name)s is processed or cancelled and cannot be changed.",
                        name=ret.name,
                    )
                )

    def _oms_check_processable(self):
        """Refuse the return when it cannot be processed; called with the order locked."""
        self.ensure_one()
        self._oms_check_draft()
        order = self.order_id
        if order.state != "sale":
            raise UserError(
                self.env._(
                    "Order %(order)s is not a confirmed order: its items cannot be returned.",
                    order=order.name,
                )
            )
        if not self.line_ids:
            raise UserError(
                self.env._("Add the returned items to return %(name)s first.", name=self.name)
            )
        if self.notice_id.state == "cancelled":
            raise UserError(
                self.env._(
                    "Return notice %(notice)s is cancelled: remove it from return %(name)s.",
                    notice=self.notice_id.name,
                    name=self.name,
                )
            )
        totals = defaultdict(float)
        for line in self.line_ids:
            totals[line.sale_line_id] += line.quantity
        returnable = self._oms_get_returnable_quantities(self.line_ids.sale_line_id)
        for sale_line, quantity in totals.items():
            maximum = returnable.get(sale_line.id, 0.0)
            if (
                float_compare(quantity, maximum, precision_rounding=sale_line.product_uom.rounding)
                > 0
            ):
                raise UserError(
                    self.env._(
                        "You cannot return %(qty)s %(uom)s of %(product)s: only %(max)s "
                        "%(uom)s was shipped and not returned yet.",
                        qty=quantity,
                        uom=sale_line.product_uom.name,
                        product=sale_line.product_id.display_name,
                        max=maximum,
                    )
                )
        if self.restock:
            tracked = self.line_ids.product_id.filtered(lambda p: p.tracking != "none")
            if tracked:
                raise UserError(
                    self.env._(
                        "%(products)s are tracked by lot or serial number: return them into "
                        "stock from the shipment (Return button) and process this return "
                        "without restocking.",
                        products=", ".join(tracked.mapped("display_name")),
                    )
                )
        if self.refund_shipping:
            earlier = self.search(
                [
                    ("order_id", "=", order.id),
                    ("state", "=", "done"),
                    ("refund_shipping", "=", True),
                    ("id", "!=", self.id),
                ],
                limit=1,
            )
            if earlier:
                raise UserError(
                    self.env._(
                        "The shipping costs of order %(order)s were already refunded by "
                        "return %(name)s.",
                        order=order.name,
                        name=earlier.name,
                    )
                )

    def _oms_process(self):
        self.ensure_one()
        order = self.order_id
        order._oms_lock_rows()
        # A lock alone does not make a concurrent transaction that started earlier see
        # our return: touch the row so that it fails to serialise and is retried.
        self.env.cr.execute(
            SQL("UPDATE sale_order SET write_date = write_date WHERE id = %s", order.id)
        )
        self.invalidate_recordset()
        self.line_ids.invalidate_recordset()
        self._oms_check_processable()
        # prices as invoiced now
        for line in self.line_ids:
            line.price_unit = line._oms_get_unit_amount()
        if self.refund_shipping:
            self.with_context(
                oms_return_processing=True
            ).shipping_amount = self._oms_get_shipping_amount()
        vals = {"state": "done", "date_done": fields.Datetime.now()}
        if self.restock:
            vals["return_picking_ids"] = [Command.set(self._oms_create_return_pickings().ids)]
        if self.link_credit_note and self.currency_id.compare_amounts(self.amount_total, 0.0) > 0:
            vals["credit_note_id"] = self._oms_create_credit_note().id
        self.with_context(oms_return_processing=True).write(vals)
        self._oms_notify()
        self._oms_complete_notices()

    def _oms_create_return_pickings(self):
        """Return the lines' quantities from the order's done outgoing shipments with
        Odoo's own return logic (one return per operation type), and validate them."""
        self.ensure_one()
        to_return = defaultdict(float)  # stock.move -> quantity in the move's unit
        for line in self.line_ids:
            sale_line = line.sale_line_id
            remaining = line.quantity
            moves = sale_line.move_ids.filtered(
                lambda m: (
                    m.state == "done"
                    and m.picking_code == "outgoing"
                    and not m.scrapped
                    and not m.origin_returned_move_id
                )
            ).sorted(lambda m: (m.date, m.id), reverse=True)
            for move in moves:
                if float_is_zero(remaining, precision_rounding=sale_line.product_uom.rounding):
                    break
                available = move.quantity - to_return[move]
                for returned in move.returned_move_ids.filtered(lambda m: m.state != "cancel"):
                    available -= returned.product_uom._compute_quantity(
                        returned.quantity if returned.state == "done" else returned.product_uom_qty,
                        move.product_uom,
                    )
                if float_compare(available, 0.0, precision_rounding=move.product_uom.rounding) <= 0:
                    continue
                wanted = sale_line.product_uom._compute_quantity(remaining, move.product_uom)
                quantity = min(wanted, available)
                to_return[move] += quantity
                remaining -= move.product_uom._compute_quantity(quantity, sale_line.product_uom)
            if not float_is_zero(remaining, precision_rounding=sale_line.product_uom.rounding):
                raise UserError(
                    self.env._(
                        "No shipment of order %(order)s has %(qty)s %(uom)s of %(product)s "
                        "left to return into stock.",
                        order=self.order_id.name,
                        qty=line.quantity,
                        uom=sale_line.product_uom.name,
                        product=sale_line.product_id.display_name,
                    )
                )
        moves_by_type = defaultdict(lambda: self.env["stock.move"])
        for move in to_return:
            moves_by_type[move.picking_id.picking_type_id] |= move
        pickings = self.env["stock.picking"]
        for moves in moves_by_type.values():
            origin = moves.picking_id.sorted(lambda p: (p.date_done, p.id))[-1]
            wizard = (
                self.env["stock.return.picking"]
                .with_context(active_id=origin.id, active_model="stock.picking")
                .create(
                    {
                        "picking_id": origin.id,
                        "product_return_moves": [
                            Command.create(
                                {
                                    "product_id": move.product_id.id,
                                    "quantity": move.product_uom._compute_quantity(
                                        to_return[move], move.product_id.uom_id
                                    ),
                                    "move_id": move.id,
                                    "to_refund": True,
                                }
                            )
                            for move in moves
                        ],
                    }
                )
            )
            picking = wizard._create_return()
            picking.origin = self.env._(
                "%(return)s (%(order)s)", **{"return": self.name, "order": self.order_id.name}
            )
            for move in picking.move_ids:
                move.quantity = move.product_uom_qty
                move.picked = True
            picking.with_context(skip_backorder=True, skip_sms=True).button_validate()
            if picking.state != "done":
                raise UserError(
                    self.env._(
                        "The return %(picking)s could not be validated.", picking=picking.name
                    )
                )
            pickings |= picking
        return pickings

    def _oms_get_shipping_amount(self):
        """The order's shipping costs incl. tax, as invoiced (less what was credited)."""
        self.ensure_one()
        amount = 0.0
        for line in self.order_id.order_line.filtered("is_delivery"):
            invoice_lines = line.invoice_lines.filtered(lambda aml: aml.move_id.state == "posted")
            if invoice_lines:
                for aml in invoice_lines:
                    sign = -1 if aml.move_id.move_type == "out_refund" else 1
                    amount += sign * aml.price_total
            else:
                amount += line.price_total
        return self.currency_id.round(max(amount, 0.0))

    def _oms_get_invoice(self):
        self.ensure_one()
        sale_lines = self.line_ids.sale_line_id
        invoices = sale_lines.invoice_lines.move_id.filtered(
            lambda m: m.move_type == "out_invoice" and m.state == "posted"
        )
        return invoices.sorted(lambda m: (m.invoice_date or fields.Date.today(), m.id))[-1:]

    def _oms_prepare_credit_note_vals(self):
        self.ensure_one()
        order = self.order_id
        vals = order._prepare_invoice()
        for key in ("transaction_ids", "payment_reference", "narration"):
            vals.pop(key, None)
        invoice = self._oms_get_invoice()
        vals.update(
            {
                "move_type": "out_refund",
                "ref": self.env._("Return %(name)s", name=self.name),
                "reversed_entry_id": invoice.id,
                "invoice_line_ids": self._oms_prepare_credit_note_line_vals(),
            }
        )
        if invoice:
            vals["journal_id"] = invoice.journal_id.id
        return vals

    def _oms_prepare_credit_note_line_vals(self):
        self.ensure_one()
        commands = []
        for line in self.line_ids:
            line_vals = line.sale_line_id._prepare_invoice_line(quantity=line.quantity)
            template = line._oms_get_invoice_line_template()
            if template:
                line_vals.update(
                    {
                        "price_unit": template.price_unit,
                        "discount": template.discount,
                        "tax_ids": [Command.set(template.tax_ids.ids)],
                    }
                )
            commands.append(Command.create(line_vals))
            if not self.currency_id.is_zero(line.correction):
                taxes = template.tax_ids if template else line.sale_line_id.tax_id
                commands.append(
                    Command.create(
                        {
                            "display_type": "product",
                            "sequence": line.sale_line_id.sequence,
                            "name": self.env._(
                                "Correction: %(product)s", product=line.product_id.display_name
                            ),
                            "quantity": 1.0,
                            "price_unit": self._oms_net_from_gross(line.correction, taxes),
                            "tax_ids": [Command.set(taxes.ids)],
                        }
                    )
                )
        if self.refund_shipping:
            for line in self.order_id.order_line.filtered("is_delivery"):
                quantity = line.qty_invoiced or line.product_uom_qty
                if float_is_zero(quantity, precision_rounding=line.product_uom.rounding):
                    continue
                line_vals = line._prepare_invoice_line(quantity=quantity)
                invoice_lines = line.invoice_lines.filtered(
                    lambda aml: (
                        aml.move_id.state == "posted" and aml.move_id.move_type == "out_invoice"
                    )
                )
                if invoice_lines:
                    line_vals.update(
                        {
                            "price_unit": invoice_lines[-1].price_unit,
                            "discount": invoice_lines[-1].discount,
                            "tax_ids": [Command.set(invoice_lines[-1].tax_ids.ids)],
                        }
                    )
                commands.append(Command.create(line_vals))
        return commands

    def _oms_net_from_gross(self, gross, taxes):
        """The price before taxes that comes to ``gross`` with ``taxes``."""
        if not taxes or all(taxes.mapped("price_include")):
            return gross
        base = 100.0
        total = taxes.compute_all(base, handle_price_include=False)["total_included"]
        return gross * base / total if total else gross

    def _oms_create_credit_note(self):
        """Create and post the customer credit note of the return. The credit note
        ceiling and the refund of the Money part apply when it is posted."""
        self.ensure_one()
        moves = self.env["account.move"]
        if not moves.has_access("create"):
            # customer service credits the returns it processes, like Odoo lets a
            # salesperson invoice its orders
            self.check_access("write")
            moves = moves.sudo()
        credit_note = (
            moves.with_company(self.company_id)
            .with_context(default_move_type="out_refund")
            .create(self._oms_prepare_credit_note_vals())
        )
        credit_note.message_post_with_source(
            "mail.message_origin_link",
            render_values={"self": credit_note, "origin": self},
            subtype_xmlid="mail.mt_note",
        )
        credit_note.action_post()
        return credit_note.with_env(self.env)

    def _oms_notify(self):
        self.ensure_one()
        if self.notify_customer:
            template = self.env.ref("nextchapter_oms.mail_template_oms_return_done")
            self.message_post_with_source(template, subtype_xmlid="mail.mt_comment")
        else:
            self.message_post(
                body=self.env._("Return processed; the customer was not notified."),
                subtype_xmlid="mail.mt_note",
            )
        self.order_id.message_post(
            body=self.env._(
                "Return %(name)s processed: %(amount)s.",
                name=self.name,
                amount=self.currency_id.format(self.amount_total),
            ),
            subtype_xmlid="mail.mt_note",
        )

    def _oms_complete_notices(self):
        """Complete the linked notice, or the announced notices of the same order
        whose products this return covers."""
        self.ensure_one()
        notices = self.notice_id
        if not notices:
            products = set(self.line_ids.product_id.ids)
            notices = (
                self.env["oms.return.notice"]
                .search(
                    [("order_id", "=", self.order_id.id), ("state", "=", "announced")],
                    order="date, id",
                )
                .filtered(lambda n: set(n.line_ids.product_id.ids) <= products)
            )
            if notices:
                self.with_context(oms_return_processing=True).notice_id = notices[0]
        notices._oms_complete()


class OmsReturnLine(models.Model):
    _name = "oms.return.line"
    _inherit = ["oms.order.document.line"]
    _description = "Return Line"
    _order = "return_id, id"
    _check_company_auto = True

    return_id = fields.Many2one("oms.return", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="return_id.company_id", store=True, index=True)
    order_id = fields.Many2one(related="return_id.order_id")
    currency_id = fields.Many2one(related="return_id.currency_id")
    state = fields.Selection(related="return_id.state")
    price_unit = fields.Float(
        string="Unit Price",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
        help="Unit price incl. discount and tax, as invoiced (as ordered when the line is "
        "not invoiced yet).",
    )
    amount = fields.Monetary(
        compute="_compute_amount",
        store=True,
        currency_field="currency_id",
        help="Quantity times the unit price incl. discount and tax, as invoiced.",
    )
    correction = fields.Monetary(
        currency_field="currency_id",
        help="Added to the amount (negative to credit less); never below zero in total.",
    )
    subtotal = fields.Monetary(
        string="To Credit",
        compute="_compute_amount",
        store=True,
        currency_field="currency_id",
    )

    @api.depends("sale_line_id")
    def _compute_price_unit(self):
        for line in self:
            line.price_unit = line._oms_get_unit_amount()

    @api.depends("quantity", "price_unit", "correction", "currency_id")
    def _compute_amount(self):
        for line in self:
            amount = line.quantity * line.price_unit
            if line.currency_id:
                amount = line.currency_id.round(amount)
            line.amount = amount
            line.subtotal = amount + line.correction

    @api.constrains("quantity", "sale_line_id", "correction", "price_unit")
    def _check_line(self):
        for line in self:
            rounding = line.sale_line_id.product_uom.rounding or 0.01
            if float_compare(line.quantity, 0.0, precision_rounding=rounding) <= 0:
                raise ValidationError(
                    self.env._(
                        "The quantity of %(product)s on return %(name)s must be positive.",
                        product=line.product_id.display_name,
                        name=line.return_id.name,
                    )
                )
            if line.sale_line_id.order_id != line.return_id.order_id:
                raise ValidationError(
                    self.env._(
                        "%(product)s is not an item of order %(order)s.",
                        product=line.product_id.display_name,
                        order=line.return_id.order_id.name,
                    )
                )
            if line.currency_id.compare_amounts(line.subtotal, 0.0) < 0:
                raise ValidationError(
                    self.env._(
                        "The correction of %(correction)s on %(product)s would make the "
                        "line negative: it can lower the amount of %(amount)s to zero at most.",
                        correction=line.currency_id.format(line.correction),
                        product=line.product_id.display_name,
                        amount=line.currency_id.format(line.amount),
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        if not self.env.context.get("oms_return_processing"):
            lines.return_id._oms_check_draft()
        return lines

    def write(self, vals):
        if not self.env.context.get("oms_return_processing") and set(vals) - {"note"}:
            self.return_id._oms_check_draft()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_processed(self):
        self.return_id.filtered(lambda r: r.state == "done")._oms_check_draft()

    def _oms_get_invoice_line_template(self):
        """The last posted invoice line of the order line (what the customer was
        invoiced), if any."""
        self.ensure_one()
        return self.sale_line_id.invoice_lines.filtered(
            lambda aml: aml.move_id.state == "posted" and aml.move_id.move_type == "out_invoice"
        )[-1:]

    def _oms_get_unit_amount(self):
        """Unit price incl. discount and tax of the order line as invoiced, or as
        ordered when it is not invoiced."""
        self.ensure_one()
        sale_line = self.sale_line_id
        if not sale_line:
            return 0.0
        invoice_lines = sale_line.invoice_lines.filtered(
            lambda aml: aml.move_id.state == "posted" and aml.move_id.move_type == "out_invoice"
        )
        quantity = sum(
            aml.product_uom_id._compute_quantity(aml.quantity, sale_line.product_uom)
            if aml.product_uom_id
            else aml.quantity
            for aml in invoice_lines
        )
        if invoice_lines and quantity:
            return sum(invoice_lines.mapped("price_total")) / quantity
        return sale_line.price_reduce_taxinc
