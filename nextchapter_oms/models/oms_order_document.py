from odoo import api, fields, models


class OmsOrderDocument(models.AbstractModel):
    """What return notices and returns share: a numbered, per-company document about one
    confirmed sales order and its customer. ``_oms_sequence_code`` names the sequence."""

    _name = "oms.order.document"
    _description = "Order Management Document"
    _check_company_auto = True
    _oms_sequence_code = None

    name = fields.Char(
        string="Reference",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: self.env._("New"),
    )
    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    order_id = fields.Many2one(
        "sale.order",
        required=True,
        index=True,
        check_company=True,
        tracking=True,
        domain="[('state', '=', 'sale')]",
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        related="order_id.partner_id",
        store=True,
        index=True,
        tracking=True,
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("name") or vals["name"] == self.env._("New"):
                company = self.env["res.company"].browse(
                    vals.get("company_id") or self.env.company.id
                )
                vals["name"] = self.env["ir.sequence"].with_company(company).next_by_code(
                    self._oms_sequence_code
                ) or self.env._("New")
        return super().create(vals_list)


class OmsOrderDocumentLine(models.AbstractModel):
    """What the lines of return notices and returns share: a quantity of one order line,
    with a reason. The concrete line defines ``order_id`` and ``company_id`` from its
    document."""

    _name = "oms.order.document.line"
    _description = "Order Management Document Line"
    _check_company_auto = True

    # redefined by each concrete line as related to its document
    company_id = fields.Many2one("res.company")
    order_id = fields.Many2one("sale.order")
    sale_line_id = fields.Many2one(
        "sale.order.line",
        string="Order Line",
        required=True,
        index=True,
        check_company=True,
        domain="[('order_id', '=', order_id), ('display_type', '=', False), "
        "('is_delivery', '=', False), ('is_downpayment', '=', False)]",
    )
    product_id = fields.Many2one(
        "product.product",
        string="Product",
        related="sale_line_id.product_id",
        store=True,
        index=True,
    )
    product_uom_id = fields.Many2one(related="sale_line_id.product_uom", string="Unit")
    quantity = fields.Float(digits="Product Unit of Measure", required=True, default=1.0)
    reason_id = fields.Many2one("oms.return.reason", check_company=True)
    note = fields.Char()

    @api.depends("quantity", "product_id")
    def _compute_display_name(self):
        for line in self:
            line.display_name = self.env._(
                "%(qty)s x %(product)s",
                qty=format(line.quantity, "g"),
                product=line.product_id.display_name or "",
            )
