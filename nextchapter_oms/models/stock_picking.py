from odoo import api, fields, models


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
