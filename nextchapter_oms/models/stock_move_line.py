from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import float_is_zero


class StockMoveLine(models.Model):
    _inherit = "stock.move.line"

    oms_pick_state = fields.Selection(
        [("to_pick", "To pick"), ("picked", "Picked"), ("missing", "Missing")],
        string="Pick Status",
        compute="_compute_oms_pick_state",
        store=True,
        index=True,
        help="To pick: reserved, still on the shelf.\n"
        "Picked: taken from the bin location.\n"
        "Missing: not found in the bin location; its reservation was released.",
    )
    oms_qty_missing = fields.Float(
        string="Missing Quantity",
        digits="Product Unit of Measure",
        copy=False,
        readonly=True,
        help="Quantity reported missing in the bin location.",
    )
    oms_warehouse_id = fields.Many2one(
        "stock.warehouse",
        string="Warehouse",
        related="location_id.warehouse_id",
        store=True,
        index=True,
    )
    oms_sale_id = fields.Many2one(related="picking_id.sale_id", string="Order")
    oms_can_pick = fields.Boolean(string="Can Pick", compute="_compute_oms_can_pick")

    @api.depends("picked", "quantity", "oms_qty_missing")
    def _compute_oms_pick_state(self):
        for line in self:
            rounding = line.product_uom_id.rounding or 0.01
            if line.oms_qty_missing > 0 and float_is_zero(
                line.quantity, precision_rounding=rounding
            ):
                line.oms_pick_state = "missing"
            elif line.picked:
                line.oms_pick_state = "picked"
            else:
                line.oms_pick_state = "to_pick"

    @api.depends("state", "picking_code", "quantity")
    def _compute_oms_can_pick(self):
        for line in self:
            line.oms_can_pick = (
                line.picking_code == "outgoing"
                and line.state not in ("done", "cancel")
                and line.quantity > 0
            )

    def action_oms_pick(self):
        """The warehouse took these lines from their bin locations."""
        self._oms_check_can_pick()
        self.picked = True
        return True

    def action_oms_mark_missing(self):
        """The goods are not in the bin location: release the reservation and leave a
        note on the shipment."""
        self._oms_check_can_pick()
        for line in self:
            quantity = line.quantity
            picking = line.picking_id
            line.write(
                {
                    "oms_qty_missing": line.oms_qty_missing + quantity,
                    "quantity": 0.0,
                    "picked": False,
                }
            )
            picking.message_post(
                body=self.env._(
                    "Missing while picking: %(qty)s %(uom)s %(product)s in %(location)s. "
                    "The reservation was released.",
                    qty=quantity,
                    uom=line.product_uom_id.name,
                    product=line.product_id.display_name,
                    location=line.location_id.display_name,
                )
            )
        return True

    def _oms_check_can_pick(self):
        if not self.env.user.has_group("stock.group_stock_user"):
            raise AccessError(
                self.env._("Only warehouse and Order Management users can record picks.")
            )
        for line in self:
            if line.picking_code != "outgoing":
                raise UserError(
                    self.env._(
                        "%(product)s is not on a shipment to a customer.",
                        product=line.product_id.display_name,
                    )
                )
            if line.state in ("done", "cancel"):
                raise UserError(
                    self.env._(
                        "Shipment %(name)s is already done or cancelled.",
                        name=line.picking_id.name,
                    )
                )
            if line.quantity <= 0:
                raise UserError(
                    self.env._(
                        "Nothing is reserved on this line of %(product)s in %(location)s.",
                        product=line.product_id.display_name,
                        location=line.location_id.display_name,
                    )
                )
