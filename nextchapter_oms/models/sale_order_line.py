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

    # ---- Fulfilment ----

    oms_allocation_ids = fields.One2many(
        "oms.allocation", "sale_line_id", string="Allocations", readonly=True
    )

    def _action_launch_stock_rule(self, previous_product_uom_qty=False):
        """With the ``split_by_stock`` policy each line's quantity to procure is planned
        over the warehouses first (one stock read for the whole batch); each
        warehouse's share then becomes a procurement in that warehouse, so that Odoo's
        own rules create its moves in that warehouse's delivery."""
        if self.env.context.get("skip_procurement") or self.env.context.get("oms_plan_token"):
            return super()._action_launch_stock_rule(previous_product_uom_qty)
        allocation_model = self.env["oms.allocation"]
        split_lines = self.filtered(
            lambda line: line.company_id.oms_allocation_policy == "split_by_stock"
        )
        if not split_lines:
            res = super()._action_launch_stock_rule(previous_product_uom_qty)
            allocation_model._oms_sync(self)
            return res
        demands = split_lines._oms_get_procurement_demands()
        plans = self.env.cr.cache.setdefault("oms_allocation_plans", {})
        token = max(plans, default=0) + 1
        plans[token] = allocation_model._oms_plan(demands)
        try:
            res = super(
                SaleOrderLine, self.with_context(oms_plan_token=token)
            )._action_launch_stock_rule(previous_product_uom_qty)
        finally:
            plans.pop(token, None)
        allocation_model._oms_sync(self)
        return res

    def _create_procurements(self, product_qty, procurement_uom, origin, values):
        token = self.env.context.get("oms_plan_token")
        plan = self.env.cr.cache.get("oms_allocation_plans", {}).get(token) if token else None
        shares = plan.get(self.id) if plan else None
        if not shares:
            return super()._create_procurements(product_qty, procurement_uom, origin, values)
        warehouses = self.env["stock.warehouse"].browse([share[0] for share in shares])
        quantities = [
            self.product_id.uom_id._compute_quantity(share[1], procurement_uom) for share in shares
        ]
        rounding = procurement_uom.rounding
        rest = product_qty - sum(quantities)
        extra = float_compare(rest, 0.0, precision_rounding=rounding) > 0
        if not extra:
            # conversion rounding: the last share takes what is left exactly
            quantities[-1] += rest
        procurements = []
        for warehouse, quantity in zip(warehouses, quantities, strict=True):
            if float_compare(quantity, 0.0, precision_rounding=rounding) > 0:
                procurements += super()._create_procurements(
                    quantity, procurement_uom, origin, dict(values, warehouse_id=warehouse)
                )
        if extra:
            # the plan covered part of the quantity (re-allocation): Odoo's default for the rest
            procurements += super()._create_procurements(rest, procurement_uom, origin, values)
        return procurements

    def _oms_get_procurement_demands(self):
        """What each line still has to procure, in the product's unit, per order;
        lines whose quantity went down get their open moves lowered instead."""
        demands = {}
        precision = self.env["decimal.precision"].precision_get("Product Unit of Measure")
        for line in self:
            if (
                line.state != "sale"
                or line.order_id.locked
                or line.product_id.type != "consu"
                or not line.product_id.is_storable
            ):
                continue
            to_procure = line.product_uom_qty - line._get_qty_procurement()
            if float_compare(to_procure, 0.0, precision_digits=precision) < 0:
                line._oms_reduce_open_moves(-to_procure)
                continue
            if float_compare(to_procure, 0.0, precision_digits=precision) == 0:
                continue
            demands.setdefault(line.order_id, []).append(
                (line, line.product_uom._compute_quantity(to_procure, line.product_id.uom_id))
            )
        return demands
