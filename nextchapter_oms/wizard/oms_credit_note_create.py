from odoo import Command, api, fields, models
from odoo.exceptions import UserError


class OmsCreditNoteCreate(models.TransientModel):
    _name = "oms.credit.note.create"
    _description = "Create a Credit Note for an Order"
    _check_company_auto = True

    order_id = fields.Many2one("sale.order", required=True, readonly=True)
    company_id = fields.Many2one(related="order_id.company_id")
    currency_id = fields.Many2one(related="invoice_id.currency_id")
    invoice_id = fields.Many2one(
        "account.move",
        required=True,
        check_company=True,
        domain="[('id', 'in', invoice_domain_ids)]",
        compute="_compute_invoice_id",
        store=True,
        readonly=False,
        help="The paid invoice of the order that the credit note is made against.",
    )
    invoice_domain_ids = fields.Many2many("account.move", compute="_compute_invoice_domain_ids")
    credit_type = fields.Selection(
        [("amount", "Amount"), ("lines", "Items")],
        string="Credit",
        required=True,
        default="amount",
        help="Amount: an amount including taxes, spread over the invoice's taxes.\n"
        "Items: quantities of the invoiced items at their invoiced price.",
    )
    amount = fields.Monetary(currency_field="currency_id", help="Amount to credit, taxes included.")
    line_ids = fields.One2many(
        "oms.credit.note.create.line",
        "wizard_id",
        string="Items",
        compute="_compute_line_ids",
        store=True,
        readonly=False,
    )
    reason = fields.Char(required=True, help="Shown on the credit note and to the customer.")
    amount_paid = fields.Monetary(related="order_id.oms_amount_paid", string="Paid")
    amount_credited = fields.Monetary(related="order_id.oms_amount_credited", string="Credited")
    creditable_amount = fields.Monetary(
        related="order_id.oms_creditable_amount", string="Still Creditable"
    )
    amount_total = fields.Monetary(
        string="Credit Note Total",
        currency_field="currency_id",
        compute="_compute_amount_total",
    )

    @api.depends("order_id")
    def _compute_invoice_domain_ids(self):
        for wizard in self:
            wizard.invoice_domain_ids = wizard.order_id._oms_get_invoices().filtered(
                lambda m: m.state == "posted"
            )

    @api.depends("order_id")
    def _compute_invoice_id(self):
        for wizard in self:
            invoices = wizard.order_id._oms_get_invoices().filtered(lambda m: m.state == "posted")
            paid = invoices.filtered(lambda m: m.payment_state in ("paid", "in_payment", "partial"))
            wizard.invoice_id = (paid or invoices).sorted("id")[-1:]

    @api.depends("invoice_id")
    def _compute_line_ids(self):
        for wizard in self:
            commands = [Command.clear()]
            for line in wizard.invoice_id.invoice_line_ids.filtered(
                lambda li: li.display_type == "product"
            ):
                commands.append(
                    Command.create(
                        {
                            "invoice_line_id": line.id,
                            "quantity": 0.0,
                        }
                    )
                )
            wizard.line_ids = commands

    @api.depends("credit_type", "amount", "line_ids.amount")
    def _compute_amount_total(self):
        for wizard in self:
            if wizard.credit_type == "amount":
                wizard.amount_total = wizard.amount
            else:
                wizard.amount_total = sum(wizard.line_ids.mapped("amount"))

    def action_create(self):
        """Create and post the credit note against the invoice. Posting checks the
        ceiling (locking the order) and creates the refund in the company's mode."""
        self.ensure_one()
        order = self.order_id
        order._oms_check_can_credit_note()
        invoice = self.invoice_id
        if invoice.state != "posted" or invoice not in order._oms_get_invoices():
            raise UserError(
                self.env._(
                    "Choose a posted invoice of order %(order)s to credit.", order=order.name
                )
            )
        line_commands = self._prepare_credit_note_line_commands()
        if not line_commands:
            raise UserError(self.env._("Enter an amount or the items to credit."))
        credit_note = self.env["account.move"].create(self._prepare_credit_note_vals(line_commands))
        if self.credit_type == "amount":
            self._adjust_rounding(credit_note)
        total = credit_note.amount_total
        if credit_note.currency_id.compare_amounts(total, 0.0) <= 0:
            raise UserError(self.env._("The credit note must credit a positive amount."))
        # Customer service may credit without accounting rights: what they may credit is
        # bounded by the ceiling that posting enforces, and the refund is approved per the
        # company's refund mode.
        credit_note.sudo().action_post()
        return {
            "type": "ir.actions.act_window",
            "res_model": "account.move",
            "res_id": credit_note.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }

    def _prepare_credit_note_vals(self, line_commands):
        invoice = self.invoice_id
        return {
            "move_type": "out_refund",
            "partner_id": invoice.partner_id.id,
            "partner_shipping_id": invoice.partner_shipping_id.id,
            "journal_id": invoice.journal_id.id,
            "currency_id": invoice.currency_id.id,
            "fiscal_position_id": invoice.fiscal_position_id.id,
            "invoice_date": fields.Date.context_today(self),
            "invoice_origin": self.order_id.name,
            "reversed_entry_id": invoice.id,
            "ref": self.env._(
                "Credit of %(invoice)s: %(reason)s", invoice=invoice.name, reason=self.reason
            ),
            "narration": self.reason,
            "invoice_line_ids": line_commands,
        }

    def _prepare_credit_note_line_commands(self):
        """Credit note lines without a product nor a link to the order lines: money back
        without a returned item changes neither the invoiced nor the delivered quantities.
        Each line keeps the account, taxes and analytics of the invoice line it credits."""
        invoice_lines = self.invoice_id.invoice_line_ids.filtered(
            lambda li: li.display_type == "product"
        )
        if self.credit_type == "lines":
            commands = []
            for line in self.line_ids.filtered(lambda li: li.quantity > 0):
                source = line.invoice_line_id
                if line.quantity > source.quantity:
                    raise UserError(
                        self.env._(
                            "At most %(max)s of %(item)s can be credited.",
                            max=source.quantity,
                            item=source.name or source.product_id.display_name,
                        )
                    )
                commands.append(
                    Command.create(
                        self._prepare_line_vals(
                            source,
                            source.price_unit,
                            quantity=line.quantity,
                            discount=source.discount,
                        )
                    )
                )
            return commands
        currency = self.invoice_id.currency_id
        amount = currency.round(self.amount)
        if currency.compare_amounts(amount, 0.0) <= 0:
            raise UserError(self.env._("The amount to credit must be positive."))
        total = sum(invoice_lines.mapped("price_total"))
        if currency.is_zero(total):
            raise UserError(self.env._("The invoice has nothing to credit."))
        commands = []
        left = amount
        weighted = invoice_lines.filtered(lambda li: not currency.is_zero(li.price_total))
        for index, source in enumerate(weighted):
            if index == len(weighted) - 1:
                share = left
            else:
                share = currency.round(amount * source.price_total / total)
                left -= share
            if currency.is_zero(share):
                continue
            commands.append(
                Command.create(self._prepare_line_vals(source, self._price_excluded(source, share)))
            )
        return commands

    def _adjust_rounding(self, credit_note):
        """Unit prices without taxes have two decimals: with taxes excluded from the price
        the total can miss the amount by a cent or so. A line without taxes makes up the
        difference, so the credit note credits exactly what was asked."""
        currency = credit_note.currency_id
        difference = currency.round(self.amount - credit_note.amount_total)
        if currency.is_zero(difference):
            return
        source = self.invoice_id.invoice_line_ids.filtered(lambda li: li.display_type == "product")
        credit_note.write(
            {
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": self.env._("Rounding: %(reason)s", reason=self.reason),
                            "account_id": source[-1:].account_id.id,
                            "quantity": 1.0,
                            "price_unit": difference,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ]
            }
        )

    def _prepare_line_vals(self, source, price_unit, quantity=1.0, discount=0.0):
        label = source.name or source.product_id.display_name or ""
        return {
            "name": self.env._("%(item)s: %(reason)s", item=label, reason=self.reason),
            "account_id": source.account_id.id,
            "quantity": quantity,
            "price_unit": price_unit,
            "discount": discount,
            "tax_ids": [Command.set(source.tax_ids.ids)],
            "analytic_distribution": source.analytic_distribution,
        }

    def _price_excluded(self, source, amount_included):
        """The unit price that makes a line with the taxes of ``source`` total
        ``amount_included``."""
        taxes = source.tax_ids
        if not taxes or all(tax.price_include for tax in taxes):
            return amount_included
        details = taxes._get_tax_details(
            amount_included,
            1.0,
            precision_rounding=source.currency_id.rounding,
            rounding_method="round_globally",
            product=source.product_id,
            special_mode="total_included",
        )
        return details["total_excluded"]


class OmsCreditNoteCreateLine(models.TransientModel):
    _name = "oms.credit.note.create.line"
    _description = "Item of a Credit Note to Create"

    wizard_id = fields.Many2one("oms.credit.note.create", required=True, ondelete="cascade")
    invoice_line_id = fields.Many2one("account.move.line", required=True)
    name = fields.Char(related="invoice_line_id.name", string="Description")
    product_id = fields.Many2one(related="invoice_line_id.product_id")
    currency_id = fields.Many2one(related="invoice_line_id.currency_id")
    quantity_invoiced = fields.Float(
        related="invoice_line_id.quantity", string="Invoiced", digits="Product Unit of Measure"
    )
    price_unit = fields.Float(related="invoice_line_id.price_unit", digits="Product Price")
    quantity = fields.Float(string="To Credit", digits="Product Unit of Measure")
    amount = fields.Monetary(currency_field="currency_id", compute="_compute_amount")

    @api.depends("quantity", "invoice_line_id")
    def _compute_amount(self):
        for line in self:
            source = line.invoice_line_id
            if source.quantity:
                line.amount = source.currency_id.round(
                    source.price_total * line.quantity / source.quantity
                )
            else:
                line.amount = 0.0
