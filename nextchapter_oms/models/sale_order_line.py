from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import float_compare, float_is_zero


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    oms_qty_cancelled = fields.Float(
        string="Cancelled",
        digits="Product Unit of Measure",
        copy=False,
        readonly=True,
        help="Quantity cancelled after confirmation with the Cancel Items action.",
    )
    oms_qty_to_ship = fields.Float(
        string="To Ship",
        digits="Product Unit of Measure",
        compute="_compute_oms_qty_to_ship",
        help="Ordered quantity not delivered yet.",
    )
    oms_qty_cancellable = fields.Float(
        string="Cancellable",
        digits="Product Unit of Measure",
        compute="_compute_oms_qty_to_ship",
        help="Quantity that can still be cancelled: ordered and not shipped.",
    )

    @api.depends("product_uom_qty", "qty_delivered", "display_type", "is_downpayment")
    def _compute_oms_qty_to_ship(self):
        for line in self:
            if line.display_type or line.is_downpayment:
                line.oms_qty_to_ship = line.oms_qty_cancellable = 0.0
                continue
            to_ship = max(line.product_uom_qty - line.qty_delivered, 0.0)
            line.oms_qty_to_ship = to_ship
            line.oms_qty_cancellable = to_ship

    def _oms_cancel_quantity(self, quantity):
        """Cancel ``quantity`` (in the line's unit) that was ordered and not shipped:
        lower the ordered quantity and the open shipment moves, record it."""
        self.ensure_one()
        rounding = self.product_uom.rounding
        if float_compare(quantity, 0.0, precision_rounding=rounding) <= 0:
            raise UserError(self.env._("The quantity to cancel must be positive."))
        if float_compare(quantity, self.oms_qty_cancellable, precision_rounding=rounding) > 0:
            raise UserError(
                self.env._(
                    "You cannot cancel %(qty)s %(uom)s of %(product)s: only "
                    "%(max)s %(uom)s is ordered and not shipped.",
                    qty=quantity,
                    uom=self.product_uom.name,
                    product=self.product_id.display_name,
                    max=self.oms_qty_cancellable,
                )
            )
        self.with_context(skip_procurement=True).write(
            {
                "product_uom_qty": self.product_uom_qty - quantity,
                "oms_qty_cancelled": self.oms_qty_cancelled + quantity,
            }
        )
        self._oms_reduce_open_moves(quantity)

    def _oms_reduce_open_moves(self, quantity):
        """Lower the demand of the line's open outgoing moves (and the open moves
        that feed them, in multi-step deliveries), newest first."""
        self.ensure_one()
        outgoing = self.move_ids.filtered(
            lambda m: m.state not in ("done", "cancel") and m.picking_code == "outgoing"
        ).sorted("id", reverse=True)
        remaining = quantity
        for move in outgoing:
            if float_is_zero(remaining, precision_rounding=self.product_uom.rounding):
                break
            move_remaining = self.product_uom._compute_quantity(remaining, move.product_uom)
            reduce = min(move_remaining, move.product_uom_qty)
            chain = move | move.move_orig_ids.filtered(lambda m: m.state not in ("done", "cancel"))
            for chained in chain:
                if (
                    float_compare(
                        reduce,
                        chained.product_uom_qty,
                        precision_rounding=chained.product_uom.rounding,
                    )
                    >= 0
                ):
                    chained._action_cancel()
                else:
                    chained.product_uom_qty -= reduce
                    chained._action_assign()
            remaining -= move.product_uom._compute_quantity(reduce, self.product_uom)
