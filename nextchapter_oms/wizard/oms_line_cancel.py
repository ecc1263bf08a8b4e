from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError


class OmsLineCancel(models.TransientModel):
    _name = "oms.line.cancel"
    _description = "Cancel Order Items"

    order_id = fields.Many2one("sale.order", required=True, readonly=True)
    line_ids = fields.One2many("oms.line.cancel.line", "wizard_id", string="Items")

    @api.model
    def default_get(self, fields_list):
        res = super().default_get(fields_list)
        order = self.env["sale.order"].browse(
            res.get("order_id") or self.env.context.get("default_order_id")
        )
        if order and "line_ids" in fields_list:
            res["line_ids"] = [
                fields.Command.create({"sale_line_id": line.id, "quantity": 0.0})
                for line in order.order_line
                if not line.display_type and line.oms_qty_cancellable > 0
            ]
        return res

    def action_apply(self):
        self.ensure_one()
        order = self.order_id
        order._oms_lock_rows()
        order._oms_check_items_cancellable()
        lines = self.line_ids.filtered(lambda wl: wl.quantity)
        if not lines:
            raise UserError(self.env._("Enter a quantity to cancel on at least one item."))
        for wizard_line in lines:
            if wizard_line.sale_line_id.order_id != order:
                raise UserError(
                    self.env._("You can only cancel items of order %(order)s.", order=order.name)
                )
            if wizard_line.quantity < 0:
                raise UserError(self.env._("The quantity to cancel must be positive."))
        items = Markup()
        for wizard_line in lines:
            line = wizard_line.sale_line_id
            line._oms_cancel_quantity(wizard_line.quantity)
            items += Markup("<li>%s</li>") % self.env._(
                "%(qty)s %(uom)s %(product)s",
                qty=wizard_line.quantity,
                uom=line.product_uom.name,
                product=line.product_id.display_name,
            )
        order.message_post(body=Markup("%s<ul>%s</ul>") % (self.env._("Items cancelled:"), items))
        return {"type": "ir.actions.act_window_close"}


class OmsLineCancelLine(models.TransientModel):
    _name = "oms.line.cancel.line"
    _description = "Cancel Order Items: Line"

    wizard_id = fields.Many2one("oms.line.cancel", required=True, ondelete="cascade")
    sale_line_id = fields.Many2one("sale.order.line", string="Order Line", required=True)
    product_id = fields.Many2one(related="sale_line_id.product_id")
    product_uom = fields.Many2one(related="sale_line_id.product_uom", string="Unit")
    qty_ordered = fields.Float(related="sale_line_id.product_uom_qty", string="Ordered")
    qty_delivered = fields.Float(related="sale_line_id.qty_delivered", string="Delivered")
    qty_cancellable = fields.Float(related="sale_line_id.oms_qty_cancellable", string="Cancellable")
    quantity = fields.Float(string="Quantity to Cancel", digits="Product Unit of Measure")
