import json

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError


class StockPicking(models.Model):
    _inherit = "stock.picking"

    oms_shipment_state = fields.Selection(
        [
            ("not_shipped", "Not shipped"),
            ("shipped", "Shipped"),
            ("cancelled", "Cancelled"),
        ],
        string="Shipment Status",
        compute="_compute_oms_shipment_state",
        store=True,
        index=True,
        help="Only for outgoing shipments. Not shipped: still open. Shipped: done. "
        "Cancelled: cancelled, or cancelled after it was shipped.",
    )
    oms_cancelled_after_shipping = fields.Boolean(
        string="Cancelled After Shipping",
        copy=False,
        readonly=True,
        help="Set when a done shipment was cancelled afterwards (e.g. the carrier "
        "never collected it) and its goods were returned to stock.",
    )

    @api.depends("state", "picking_type_code", "oms_cancelled_after_shipping")
    def _compute_oms_shipment_state(self):
        for picking in self:
            if picking.picking_type_code != "outgoing":
                picking.oms_shipment_state = False
            elif picking.state == "cancel" or picking.oms_cancelled_after_shipping:
                picking.oms_shipment_state = "cancelled"
            elif picking.state == "done":
                picking.oms_shipment_state = "shipped"
            else:
                picking.oms_shipment_state = "not_shipped"

    # ---- Fulfilment ----

    oms_package_count = fields.Integer(
        string="Packages",
        default=1,
        copy=False,
        tracking=True,
        help="Number of packages of this shipment. Editable until the shipment is done.",
    )
    oms_tracking_url = fields.Char(
        string="Track & Trace URL",
        copy=False,
        tracking=True,
        help="Track & trace URL entered by hand or imported from the carrier. "
        "When empty, the carrier's own tracking link is used.",
    )
    oms_tracking_link = fields.Char(
        string="Tracking Link",
        compute="_compute_oms_tracking_link",
        help="The manual tracking URL, else the carrier's tracking link.",
    )
    oms_pre_announced_date = fields.Datetime(
        string="Pre-announced On",
        copy=False,
        readonly=True,
        tracking=True,
        help="When the shipment was pre-announced to the carrier.",
    )
    oms_can_ship = fields.Boolean(string="Can Ship", compute="_compute_oms_can_ship")
    oms_can_pre_announce = fields.Boolean(
        string="Can Pre-announce", compute="_compute_oms_can_ship"
    )
    oms_can_cancel = fields.Boolean(string="Can Cancel", compute="_compute_oms_can_ship")
    oms_can_cancel_shipped = fields.Boolean(
        string="Can Cancel Shipped", compute="_compute_oms_can_ship"
    )

    @api.depends("oms_tracking_url", "carrier_tracking_url")
    def _compute_oms_tracking_link(self):
        for picking in self:
            link = picking.oms_tracking_url or picking.carrier_tracking_url or False
            if link and link.startswith("["):
                # several trackers: Odoo stores a JSON list of [name, url]
                try:
                    trackers = json.loads(link)
                    link = trackers[0][1] if trackers else False
                except (ValueError, IndexError, TypeError):
                    link = False
            picking.oms_tracking_link = link

    @api.depends(
        "state",
        "picking_type_code",
        "oms_cancelled_after_shipping",
        "move_ids.quantity",
        "sale_id.state",
    )
    def _compute_oms_can_ship(self):
        for picking in self:
            outgoing = picking.picking_type_code == "outgoing"
            is_open = picking.state not in ("done", "cancel")
            order_open = picking.sale_id.state != "cancel"
            picking.oms_can_ship = outgoing and is_open and picking._oms_has_reserved_quantity()
            picking.oms_can_pre_announce = outgoing and is_open
            picking.oms_can_cancel = outgoing and is_open and order_open
            picking.oms_can_cancel_shipped = (
                outgoing
                and picking.state == "done"
                and not picking.oms_cancelled_after_shipping
                and bool(picking.sale_id)
                and order_open
            )

    @api.constrains("oms_package_count")
    def _check_oms_package_count(self):
        for picking in self:
            if picking.oms_package_count <= 0:
                raise ValidationError(
                    self.env._(
                        "Shipment %(name)s must have at least one package.",
                        name=picking.name,
                    )
                )

    def write(self, vals):
        if "oms_package_count" in vals:
            for picking in self.filtered(lambda p: p.state == "done"):
                if picking.oms_package_count != vals["oms_package_count"]:
                    raise UserError(
                        self.env._(
                            "Shipment %(name)s is done: its number of packages can no "
                            "longer be changed.",
                            name=picking.name,
                        )
                    )
        return super().write(vals)

    def action_oms_ship(self):
        """Mark what is reserved as picked and validate. What is not reserved stays in
        a backorder."""
        self._oms_check_can_ship()
        self.sale_id._oms_lock_rows()
        for picking in self:
            for move in picking.move_ids:
                if move.state in ("done", "cancel"):
                    continue
                if move.quantity:
                    move.picked = True
        result = self.with_context(
            skip_backorder=True, skip_sms=True, skip_immediate=True
        ).button_validate()
        return result if isinstance(result, dict) else True

    def action_oms_ship_and_email(self):
        """Ship, then e-mail the customer the shipment with its packages and tracking
        link."""
        result = self.action_oms_ship()
        self._oms_send_shipment_email()
        return result

    def action_oms_pre_announce(self):
        """Announce the shipment to its carrier before it leaves: Odoo's carrier
        integration when there is one, a record of the date in every case."""
        for picking in self:
            if picking.picking_type_code != "outgoing":
                raise UserError(
                    self.env._(
                        "%(name)s is not a shipment to a customer: it cannot be pre-announced.",
                        name=picking.name,
                    )
                )
            if picking.state in ("done", "cancel"):
                raise UserError(
                    self.env._(
                        "Shipment %(name)s is already done or cancelled: it cannot be "
                        "pre-announced.",
                        name=picking.name,
                    )
                )
        for picking in self:
            carrier = picking.carrier_id
            sent = False
            # an announced shipment keeps its tracking number: a retry never books twice
            if (
                carrier
                and picking._oms_carrier_has_integration()
                and not (picking.oms_pre_announced_date and picking.carrier_tracking_ref)
            ):
                picking.send_to_shipper()
                sent = True
            picking.oms_pre_announced_date = fields.Datetime.now()
            if sent:
                body = self.env._(
                    "Shipment pre-announced to carrier %(carrier)s (tracking number %(ref)s).",
                    carrier=carrier.name,
                    ref=picking.carrier_tracking_ref or "-",
                )
            elif carrier:
                body = self.env._(
                    "Shipment pre-announced for carrier %(carrier)s.",
                    carrier=carrier.name,
                )
            else:
                body = self.env._("Shipment pre-announced.")
            picking.message_post(body=body)
        return True

    def action_oms_cancel(self):
        """Cancel shipments that are not done yet (Odoo's cancel), with a trace."""
        for picking in self:
            picking._oms_check_order_not_cancelled()
            if picking.state == "done":
                raise UserError(
                    self.env._(
                        "Shipment %(name)s is done: use Cancel Shipped Shipment to return "
                        "its goods to stock.",
                        name=picking.name,
                    )
                )
            if picking.state == "cancel":
                raise UserError(
                    self.env._("Shipment %(name)s is already cancelled.", name=picking.name)
                )
        self.sale_id._oms_lock_rows()
        self.action_cancel()
        for picking in self:
            body = self.env._("Shipment %(name)s cancelled.", name=picking.name)
            picking.message_post(body=body)
            if picking.sale_id:
                picking.sale_id.message_post(body=body)
        return True

    def action_oms_cancel_shipped(self):
        """Cancel a done shipment that never left (e.g. the carrier never collected
        it): return its goods to stock, mark it cancelled and open its quantities to
        ship again in a new shipment."""
        for picking in self:
            picking._oms_check_order_not_cancelled()
            if picking.picking_type_code != "outgoing" or not picking.sale_id:
                raise UserError(
                    self.env._("%(name)s is not a shipment of a sales order.", name=picking.name)
                )
            if picking.state != "done":
                raise UserError(
                    self.env._(
                        "Shipment %(name)s is not done: cancel it with Cancel instead.",
                        name=picking.name,
                    )
                )
        self.sale_id._oms_lock_rows()
        # re-read under the lock: a concurrent cancel must not return goods twice
        self.invalidate_recordset(["oms_cancelled_after_shipping"])
        for picking in self:
            if picking.oms_cancelled_after_shipping:
                raise UserError(
                    self.env._(
                        "Shipment %(name)s was already cancelled after shipping.",
                        name=picking.name,
                    )
                )
        for picking in self:
            return_picking = picking._oms_return_all_to_stock()
            picking.oms_cancelled_after_shipping = True
            order = picking.sale_id
            order.order_line._action_launch_stock_rule()
            new_shipments = order.picking_ids.filtered(
                lambda p, picking=picking: (
                    p.oms_shipment_state == "not_shipped" and p.id > picking.id
                )
            )
            body = self.env._(
                "Shipment %(name)s cancelled after shipping: its goods went back to stock "
                "with %(return)s and are open to ship again.",
                name=picking.name,
                **{"return": return_picking.name},
            )
            picking.message_post(body=body)
            order.message_post(body=body)
            if new_shipments:
                new_shipments[-1:].message_post(
                    body=self.env._(
                        "Ships again what shipment %(name)s did not deliver.",
                        name=picking.name,
                    )
                )
        return True

    # ---- Fulfilment: helpers ----

    def _oms_has_reserved_quantity(self):
        self.ensure_one()
        return any(
            move.quantity > 0 for move in self.move_ids if move.state not in ("done", "cancel")
        )

    def _oms_carrier_has_integration(self):
        self.ensure_one()
        return bool(self.carrier_id) and self.carrier_id.delivery_type not in (
            "fixed",
            "base_on_rule",
        )

    def _oms_check_order_not_cancelled(self):
        self.ensure_one()
        if self.sale_id.state == "cancel":
            raise UserError(
                self.env._(
                    "Order %(order)s is cancelled: its shipments can no longer be cancelled.",
                    order=self.sale_id.name,
                )
            )

    def _oms_check_can_ship(self):
        for picking in self:
            if picking.picking_type_code != "outgoing":
                raise UserError(
                    self.env._("%(name)s is not a shipment to a customer.", name=picking.name)
                )
            if picking.state in ("done", "cancel"):
                raise UserError(
                    self.env._("Shipment %(name)s is already done or cancelled.", name=picking.name)
                )
            if not picking._oms_has_reserved_quantity():
                raise UserError(
                    self.env._("Shipment %(name)s has nothing reserved to ship.", name=picking.name)
                )

    def _oms_send_shipment_email(self):
        template = self.env.ref("nextchapter_oms.mail_template_oms_shipment_sent")
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_comment")
        for picking in self:
            picking.message_post_with_source(
                template,
                email_layout_xmlid="mail.mail_notification_light",
                subtype_id=subtype_id,
            )

    def _oms_return_all_to_stock(self):
        """Return everything this done shipment delivered (and was not returned yet)
        to the stock it came from, and validate the return."""
        self.ensure_one()
        wizard = (
            self.env["stock.return.picking"]
            .with_context(active_id=self.id, active_ids=self.ids, active_model="stock.picking")
            .create({})
        )
        has_quantity = False
        for line in wizard.product_return_moves:
            move = line.move_id
            quantity = move.quantity - sum(
                returned.quantity
                for returned in move.returned_move_ids
                if returned.state != "cancel"
            )
            line.quantity = max(quantity, 0.0)
            line.to_refund = True
            has_quantity = has_quantity or line.quantity > 0
        if not has_quantity:
            raise UserError(
                self.env._("Everything shipped with %(name)s was already returned.", name=self.name)
            )
        return_picking = wizard._create_return()
        for move in return_picking.move_ids:
            move.quantity = move.product_uom_qty
            move.picked = True
        return_picking.with_context(skip_sms=True, cancel_backorder=True)._action_done()
        return return_picking

    # ---- Integrations ----

    oms_tracking_source = fields.Selection(
        [("manual", "Manual"), ("import", "Import")],
        string="Tracking Source",
        compute="_compute_oms_tracking_source",
        store=True,
        readonly=False,
        copy=False,
        help="Manual: the tracking was entered in Odoo. Import: a carrier or middleware "
        "sent it to /oms/tracking.",
    )
    oms_tracking_date = fields.Datetime(
        string="Tracking Updated On",
        compute="_compute_oms_tracking_source",
        store=True,
        readonly=False,
        copy=False,
    )
    oms_delivered_date = fields.Datetime(
        string="Delivered On",
        copy=False,
        readonly=True,
        tracking=True,
        help="When the carrier reported the shipment as delivered.",
    )

    @api.depends("carrier_tracking_ref", "oms_tracking_url")
    def _compute_oms_tracking_source(self):
        # a change made in Odoo; the import writes its own source with the tracking
        now = fields.Datetime.now()
        for picking in self:
            if picking.carrier_tracking_ref or picking.oms_tracking_url:
                picking.oms_tracking_source = "manual"
                picking.oms_tracking_date = now
            else:
                picking.oms_tracking_source = False
                picking.oms_tracking_date = False

    @api.model
    def _oms_find_tracking_shipment(self, shipment, order_name, tracking_ref, status, companies):
        """The outgoing shipment a tracking entry is about, among the companies'
        shipments: by its number, or by its order's number when that designates a
        single shipment. Empty when unknown; UserError when ambiguous."""
        domain = [
            ("picking_type_code", "=", "outgoing"),
            ("company_id", "in", companies.ids),
        ]
        if shipment:
            return self.search([*domain, ("name", "=", shipment)], limit=1)
        order = self.env["sale.order"].search(
            [("name", "=", order_name), ("company_id", "in", companies.ids)], limit=1
        )
        shipments = self.search([*domain, ("sale_id", "=", order.id)]) if order else self
        if not shipments:
            return shipments
        same_ref = shipments.filtered(
            lambda p: tracking_ref and p.carrier_tracking_ref == tracking_ref
        )
        if len(same_ref) == 1:
            return same_ref
        if status == "delivered":
            candidates = shipments.filtered(
                lambda p: p.oms_shipment_state == "shipped" and not p.oms_delivered_date
            ) or shipments.filtered(lambda p: p.oms_shipment_state == "not_shipped")
        else:
            candidates = shipments.filtered(lambda p: p.oms_shipment_state == "not_shipped")
        if len(candidates) == 1:
            return candidates
        raise UserError(
            self.env._(
                "Order %(order)s has no single shipment to apply this tracking to: "
                "give the shipment number.",
                order=order.name,
            )
        )

    def _oms_apply_tracking(self, status, tracking_ref=False, tracking_url=False, date=False):
        """Apply a carrier's tracking message: tracking number and URL, then the
        status. Ships through the Fulfilment actions (e-mailing the customer when the
        company asks for it). Returns True when something changed: a replayed message
        changes nothing."""
        self.ensure_one()
        if self.state == "cancel" or self.oms_cancelled_after_shipping:
            raise UserError(self.env._("Shipment %(name)s is cancelled.", name=self.name))
        now = fields.Datetime.now()
        vals = {}
        if tracking_ref and tracking_ref != self.carrier_tracking_ref:
            vals["carrier_tracking_ref"] = tracking_ref
        if tracking_url and tracking_url != self.oms_tracking_url:
            vals["oms_tracking_url"] = tracking_url
        if status == "pre_announced" and self.state != "done" and not self.oms_pre_announced_date:
            vals["oms_pre_announced_date"] = date or now
        changed = bool(vals)
        if vals:
            vals.update(oms_tracking_source="import", oms_tracking_date=now)
            self.write(vals)
        if status in ("shipped", "delivered") and self.state != "done":
            if not self._oms_has_reserved_quantity():
                self.action_assign()
            if self.company_id.oms_tracking_email:
                self.action_oms_ship_and_email()
            else:
                self.action_oms_ship()
            if self.state != "done":
                raise UserError(
                    self.env._("Shipment %(name)s could not be shipped.", name=self.name)
                )
            changed = True
        if status == "delivered" and not self.oms_delivered_date:
            self.oms_delivered_date = date or now
            changed = True
        if changed:
            self.write({"oms_tracking_source": "import", "oms_tracking_date": now})
            self.message_post(
                body=self.env._(
                    "Track & trace imported: %(status)s, tracking number %(ref)s.",
                    status=dict(self._oms_tracking_statuses())[status],
                    ref=self.carrier_tracking_ref or "-",
                )
            )
        return changed

    @api.model
    def _oms_tracking_statuses(self):
        return [
            ("pre_announced", self.env._("pre-announced")),
            ("shipped", self.env._("shipped")),
            ("delivered", self.env._("delivered")),
        ]
