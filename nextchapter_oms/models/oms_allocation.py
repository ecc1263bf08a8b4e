from collections import defaultdict

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import float_compare, float_is_zero

ALLOCATION_STATES = [
    ("allocated", "Allocated"),
    ("reserved", "Reserved"),
    ("picked", "Picked"),
    ("shipped", "Shipped"),
    ("cancelled", "Cancelled"),
    ("backorder", "Backorder"),
]


class OmsAllocation(models.Model):
    """The share of an order line that one stock location (a warehouse's stock)
    ships. Created by the allocation engine when the order's stock is procured; its
    quantities and state follow the line's outgoing moves in that warehouse."""

    _name = "oms.allocation"
    _description = "Order Line Allocation"
    _order = "order_id, sale_line_id, warehouse_sequence, id"
    _check_company_auto = True

    company_id = fields.Many2one(
        "res.company",
        required=True,
        readonly=True,
        index=True,
        default=lambda self: self.env.company,
    )
    order_id = fields.Many2one(
        "sale.order",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
        check_company=True,
    )
    sale_line_id = fields.Many2one(
        "sale.order.line",
        string="Order Line",
        required=True,
        readonly=True,
        index=True,
        ondelete="cascade",
        check_company=True,
    )
    partner_id = fields.Many2one(related="order_id.partner_id", string="Customer")
    product_id = fields.Many2one(
        "product.product", related="sale_line_id.product_id", store=True, index=True
    )
    product_uom_id = fields.Many2one(related="product_id.uom_id", string="Unit")
    warehouse_id = fields.Many2one(
        "stock.warehouse",
        required=True,
        readonly=True,
        index=True,
        check_company=True,
    )
    warehouse_sequence = fields.Integer(related="warehouse_id.sequence", store=True)
    location_id = fields.Many2one(
        "stock.location",
        string="Source Location",
        required=True,
        readonly=True,
        check_company=True,
        help="Stock location the share is shipped from.",
    )
    move_ids = fields.Many2many(
        "stock.move",
        string="Moves",
        compute="_compute_move_ids",
        help="Outgoing moves of the order line in this warehouse.",
    )
    picking_id = fields.Many2one(
        "stock.picking",
        string="Shipment",
        compute="_compute_quantities",
        store=True,
        help="The open shipment of the share, else the last shipment that shipped it.",
    )
    quantity = fields.Float(
        digits="Product Unit of Measure",
        compute="_compute_quantities",
        store=True,
        help="Quantity allocated to this location: open and shipped, less what came back.",
    )
    qty_reserved = fields.Float(
        string="Reserved",
        digits="Product Unit of Measure",
        compute="_compute_quantities",
        store=True,
    )
    qty_shipped = fields.Float(
        string="Shipped",
        digits="Product Unit of Measure",
        compute="_compute_quantities",
        store=True,
    )
    state = fields.Selection(
        ALLOCATION_STATES,
        string="Status",
        compute="_compute_quantities",
        store=True,
        index=True,
        help="Allocated: assigned to the location, not reserved yet.\n"
        "Reserved: the stock is reserved for the shipment.\n"
        "Picked: picked, waiting to be shipped.\n"
        "Shipped: shipped to the customer.\n"
        "Cancelled: nothing left to ship from this location.\n"
        "Backorder: waiting for stock that is not there.",
    )

    _sql_constraints = [
        (
            "line_warehouse_unique",
            "UNIQUE(sale_line_id, warehouse_id)",
            "An order line has one allocation per warehouse.",
        ),
    ]

    @api.depends("sale_line_id.move_ids", "warehouse_id")
    def _compute_move_ids(self):
        for allocation in self:
            allocation.move_ids = allocation._oms_get_moves()

    @api.depends(
        "warehouse_id",
        "sale_line_id.move_ids.state",
        "sale_line_id.move_ids.quantity",
        "sale_line_id.move_ids.product_qty",
        "sale_line_id.move_ids.picked",
        "sale_line_id.move_ids.picking_id",
        "sale_line_id.move_ids.returned_move_ids.state",
        "sale_line_id.move_ids.returned_move_ids.quantity",
    )
    def _compute_quantities(self):
        for allocation in self:
            moves = allocation._oms_get_moves()
            uom = allocation.product_id.uom_id
            rounding = uom.rounding or 0.01
            open_moves = moves.filtered(lambda m: m.state not in ("done", "cancel"))
            done_moves = moves.filtered(lambda m: m.state == "done")
            returned = sum(
                ret.product_uom._compute_quantity(ret.quantity, uom)
                for ret in done_moves.returned_move_ids
                if ret.state == "done"
            )
            shipped = (
                sum(m.product_uom._compute_quantity(m.quantity, uom) for m in done_moves) - returned
            )
            open_qty = sum(m.product_qty for m in open_moves)
            reserved = sum(m.product_uom._compute_quantity(m.quantity, uom) for m in open_moves)
            allocation.quantity = open_qty + max(shipped, 0.0)
            allocation.qty_reserved = reserved
            allocation.qty_shipped = max(shipped, 0.0)
            allocation.picking_id = (
                open_moves[:1].picking_id or done_moves.sorted("id", reverse=True)[:1].picking_id
            )
            if open_moves:
                fully_reserved = float_compare(reserved, open_qty, precision_rounding=rounding) >= 0
                if fully_reserved and all(m.picked for m in open_moves):
                    allocation.state = "picked"
                elif fully_reserved:
                    allocation.state = "reserved"
                elif any(m.state in ("confirmed", "partially_available") for m in open_moves):
                    allocation.state = "backorder"
                else:
                    allocation.state = "allocated"
            elif float_compare(shipped, 0.0, precision_rounding=rounding) > 0:
                allocation.state = "shipped"
            else:
                allocation.state = "cancelled"

    @api.depends("order_id.name", "product_id", "warehouse_id.code")
    def _compute_display_name(self):
        for allocation in self:
            allocation.display_name = " - ".join(
                part
                for part in (
                    allocation.order_id.name,
                    allocation.product_id.display_name,
                    allocation.warehouse_id.code,
                )
                if part
            )

    def _oms_get_moves(self):
        self.ensure_one()
        return self.sale_line_id.move_ids.filtered(
            lambda m: (
                m.picking_code == "outgoing" and m.picking_type_id.warehouse_id == self.warehouse_id
            )
        )

    # ------------------------------------------------------------------
    # Engine
    # ------------------------------------------------------------------

    @api.model
    def _oms_check_access(self):
        if not self.env.user.has_group("nextchapter_oms.group_oms_user"):
            raise AccessError(self.env._("Only Order Management users can allocate orders."))

    @api.model
    def _oms_get_warehouses(self, companies):
        """Warehouses per company, in their sequence order (one query)."""
        warehouses = (
            self.env["stock.warehouse"]
            .sudo()
            .search([("company_id", "in", companies.ids)], order="sequence, id")
        )
        by_company = defaultdict(lambda: self.env["stock.warehouse"])
        for warehouse in warehouses:
            by_company[warehouse.company_id.id] |= warehouse
        return by_company

    @api.model
    def _oms_get_free_stock(self, products, warehouses):
        """Free quantity (on hand, not reserved) per (warehouse id, product id) in the
        warehouses' stock locations, for all products at once: a bounded number of
        queries, whatever the number of lines."""
        free = defaultdict(float)
        if not products or not warehouses:
            return free
        stock_locations = warehouses.lot_stock_id
        stock_by_location = {wh.lot_stock_id.id: wh.id for wh in warehouses}
        groups = (
            self.env["stock.quant"]
            .sudo()
            ._read_group(
                [
                    ("product_id", "in", products.ids),
                    ("location_id", "child_of", stock_locations.ids),
                ],
                groupby=["product_id", "location_id"],
                aggregates=["quantity:sum", "reserved_quantity:sum"],
            )
        )
        locations = self.env["stock.location"].sudo().browse({loc.id for _p, loc, _q, _r in groups})
        # one read for all locations: which warehouse stock location they belong to
        warehouse_of_location = {}
        for location in locations:
            parents = [int(pid) for pid in location.parent_path.split("/") if pid]
            warehouse_of_location[location.id] = next(
                (stock_by_location[pid] for pid in reversed(parents) if pid in stock_by_location),
                False,
            )
        for product, location, quantity, reserved in groups:
            warehouse_id = warehouse_of_location.get(location.id)
            if warehouse_id:
                free[warehouse_id, product.id] += max(quantity - reserved, 0.0)
        return free

    @api.model
    def _oms_plan(self, demands_by_order, free=None):
        """Split what each order needs over its company's warehouses.

        :param demands_by_order: {order: [(line, quantity in the product's unit)]}
        :param free: free stock per (warehouse id, product id); prefetched when absent
        :return: {line id: ((warehouse id, quantity, missing), ...)} with the quantities
            in the product's unit; ``missing`` marks the share no warehouse has.

        An order that one warehouse can ship completely goes to the first such
        warehouse (fewest shipments). Otherwise each line goes to a warehouse the order
        already uses or the first that has all of it, else it is split over the
        warehouses by their free stock, in sequence; the rest is a backorder share in
        the first warehouse.
        """
        plan = {}
        if not demands_by_order:
            return plan
        orders = self.env["sale.order"].browse([o.id for o in demands_by_order])
        lines = self.env["sale.order.line"].browse(
            [line.id for demands in demands_by_order.values() for line, _q in demands]
        )
        # one read for all products and units of the batch (not one per line)
        lines.product_id.uom_id.mapped("rounding")
        warehouses_by_company = self._oms_get_warehouses(orders.company_id)
        if free is None:
            all_warehouses = self.env["stock.warehouse"].browse(
                [wh.id for whs in warehouses_by_company.values() for wh in whs]
            )
            free = self._oms_get_free_stock(lines.product_id, all_warehouses)
        for order, demands in demands_by_order.items():
            warehouses = warehouses_by_company.get(order.company_id.id)
            if not warehouses or not demands:
                continue
            plan.update(self._oms_plan_order(demands, warehouses, free))
        return plan

    @api.model
    def _oms_plan_order(self, demands, warehouses, free):
        def covers(warehouse, product, quantity):
            return (
                float_compare(
                    free[warehouse.id, product.id],
                    quantity,
                    precision_rounding=product.uom_id.rounding,
                )
                >= 0
            )

        needed = defaultdict(float)
        for line, quantity in demands:
            needed[line.product_id] += quantity
        whole = next(
            (
                wh
                for wh in warehouses
                if all(covers(wh, product, qty) for product, qty in needed.items())
            ),
            None,
        )
        plan = {}
        if whole:
            for line, quantity in demands:
                free[whole.id, line.product_id.id] -= quantity
                plan[line.id] = ((whole.id, quantity, False),)
            return plan
        used = []
        for line, quantity in demands:
            product = line.product_id
            rounding = product.uom_id.rounding
            ordered = used + [wh for wh in warehouses if wh not in used]
            single = next((wh for wh in ordered if covers(wh, product, quantity)), None)
            shares = []
            if single:
                shares.append((single.id, quantity, False))
                free[single.id, product.id] -= quantity
                if single not in used:
                    used.append(single)
            else:
                remaining = quantity
                for wh in ordered:
                    if float_is_zero(remaining, precision_rounding=rounding):
                        break
                    take = min(free[wh.id, product.id], remaining)
                    if float_compare(take, 0.0, precision_rounding=rounding) <= 0:
                        continue
                    shares.append((wh.id, take, False))
                    free[wh.id, product.id] -= take
                    remaining -= take
                    if wh not in used:
                        used.append(wh)
                if float_compare(remaining, 0.0, precision_rounding=rounding) > 0:
                    shares.append((warehouses[0].id, remaining, True))
            plan[line.id] = tuple(shares)
        return plan

    @api.model
    def _oms_sync(self, lines):
        """Make sure every (order line, warehouse) that has outgoing moves has its
        allocation record; quantities and states follow the moves."""
        lines = lines.filtered(lambda line: line.state == "sale" and not line.display_type)
        if not lines:
            return self.browse()
        existing = {
            (alloc.sale_line_id.id, alloc.warehouse_id.id)
            for alloc in self.sudo().search([("sale_line_id", "in", lines.ids)])
        }
        values = []
        for line in lines:
            for move in line.move_ids:
                warehouse = move.picking_type_id.warehouse_id
                if move.picking_code != "outgoing" or not warehouse:
                    continue
                key = (line.id, warehouse.id)
                if key in existing:
                    continue
                existing.add(key)
                values.append(
                    {
                        "company_id": line.company_id.id,
                        "order_id": line.order_id.id,
                        "sale_line_id": line.id,
                        "warehouse_id": warehouse.id,
                        "location_id": move.location_id.id,
                    }
                )
        return self.sudo().create(values) if values else self.browse()

    @api.model
    def _oms_reallocate(self, orders):
        """Allocate again what is neither reserved nor shipped: try to reserve it where
        it is, then (split by stock) move what another warehouse has in stock there,
        and procure what has no open move (e.g. a cancelled shipment). Idempotent: a
        second run without stock changes changes nothing."""
        lines = orders.order_line.filtered(
            lambda line: not line.display_type and line.product_id.type == "consu"
        )
        waiting = lines.move_ids.filtered(
            lambda m: (
                m.picking_code == "outgoing" and m.state in ("confirmed", "partially_available")
            )
        )
        if waiting:
            waiting._action_assign()
        split_orders = orders.filtered(
            lambda o: o.company_id.oms_allocation_policy == "split_by_stock"
        )
        moved_lines = self.env["sale.order.line"]
        if split_orders:
            demands_by_order = defaultdict(list)
            unreserved_moves = defaultdict(lambda: self.env["stock.move"])
            for move in waiting.filtered(
                lambda m: (
                    m.state in ("confirmed", "partially_available")
                    and m.sale_line_id.order_id in split_orders
                    and m.product_id.is_storable
                )
            ):
                unreserved_moves[move.sale_line_id] |= move
            for line, moves in unreserved_moves.items():
                quantity = sum(
                    m.product_qty - m.product_uom._compute_quantity(m.quantity, m.product_id.uom_id)
                    for m in moves
                )
                rounding = line.product_id.uom_id.rounding
                if float_compare(quantity, 0.0, precision_rounding=rounding) > 0:
                    demands_by_order[line.order_id].append((line, quantity))
            plan = self._oms_plan(demands_by_order)
            moves_plan = {}
            for line, moves in unreserved_moves.items():
                own_warehouses = moves.picking_type_id.warehouse_id.ids
                shares = tuple(
                    share
                    for share in plan.get(line.id, ())
                    if not share[2] and share[0] not in own_warehouses
                )
                to_move = sum(share[1] for share in shares)
                rounding = line.product_id.uom_id.rounding
                if float_compare(to_move, 0.0, precision_rounding=rounding) > 0:
                    self._oms_release_unreserved(moves, to_move)
                    moves_plan[line.id] = shares
                    moved_lines |= line
            if moved_lines:
                # procure what was released exactly where the plan found the stock
                plans = self.env.cr.cache.setdefault("oms_allocation_plans", {})
                token = max(plans, default=0) + 1
                plans[token] = moves_plan
                try:
                    moved_lines.with_context(oms_plan_token=token)._action_launch_stock_rule()
                finally:
                    plans.pop(token, None)
        # procure what has no open move any more (e.g. a cancelled shipment)
        lines._action_launch_stock_rule()
        return moved_lines

    @api.model
    def _oms_release_unreserved(self, moves, quantity):
        """Take ``quantity`` (product unit) off the unreserved part of ``moves``,
        newest first, so that it can be procured from another warehouse."""
        remaining = quantity
        for move in moves.sorted("id", reverse=True):
            uom = move.product_id.uom_id
            if float_is_zero(remaining, precision_rounding=uom.rounding):
                break
            reserved = move.product_uom._compute_quantity(move.quantity, uom)
            unreserved = move.product_qty - reserved
            take = min(unreserved, remaining)
            if float_compare(take, 0.0, precision_rounding=uom.rounding) <= 0:
                continue
            if float_is_zero(reserved, precision_rounding=uom.rounding) and (
                float_compare(take, move.product_qty, precision_rounding=uom.rounding) >= 0
            ):
                move._action_cancel()
            else:
                move.product_uom_qty = uom._compute_quantity(
                    move.product_qty - take, move.product_uom
                )
                move._recompute_state()
            remaining -= take

    @api.model
    def _oms_summary(self, order):
        """Chatter note listing an order's allocations."""
        items = Markup()
        states = dict(self._fields["state"]._description_selection(self.env))
        for alloc in order.oms_allocation_ids.filtered(lambda a: a.state != "cancelled"):
            items += Markup("<li>%s</li>") % self.env._(
                "%(qty)s %(uom)s %(product)s from %(warehouse)s: %(state)s",
                qty=alloc.quantity,
                uom=alloc.product_uom_id.name,
                product=alloc.product_id.display_name,
                warehouse=alloc.warehouse_id.name,
                state=states.get(alloc.state),
            )
        return Markup("%s<ul>%s</ul>") % (self.env._("Allocation updated:"), items)
