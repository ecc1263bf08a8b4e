from datetime import timedelta

from odoo import api, fields, models

OMS_LOG_RETENTION_DAYS = 30
OMS_LOG_CLEANUP_BATCH = 1000


class OmsIntegrationLog(models.Model):
    _name = "oms.integration.log"
    _description = "Integration Request Log"
    _order = "id desc"
    _rec_name = "endpoint"
    _check_company_auto = True

    company_id = fields.Many2one(
        "res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    direction = fields.Selection(
        [("outgoing", "Outgoing"), ("incoming", "Incoming")],
        required=True,
        index=True,
    )
    endpoint = fields.Char(required=True, help="URL called, or path of the incoming request.")
    status_code = fields.Integer(
        help="HTTP status of the answer; 0 when no answer came (timeout, connection error)."
    )
    duration = fields.Float(string="Duration (ms)", digits=(16, 0))
    success = fields.Boolean(compute="_compute_success", store=True)
    reference = fields.Char(
        help="Idempotency key of an export, or the shipment/order number of a tracking entry."
    )
    error = fields.Text()
    order_id = fields.Many2one(
        "sale.order",
        index="btree_not_null",
        ondelete="set null",
        check_company=True,
    )
    picking_id = fields.Many2one(
        "stock.picking",
        string="Shipment",
        index="btree_not_null",
        ondelete="set null",
        check_company=True,
    )

    @api.depends("status_code")
    def _compute_success(self):
        for log in self:
            log.success = 200 <= log.status_code < 300

    @api.model
    def _oms_log(self, vals_list):
        """Record requests for support, whatever the caller's rights."""
        return self.sudo().create(vals_list)

    @api.model
    def _oms_cleanup(self, limit=OMS_LOG_CLEANUP_BATCH):
        """Delete a bounded batch of logs older than the retention period; returns
        True when more old logs are left."""
        limit_date = fields.Datetime.now() - timedelta(days=OMS_LOG_RETENTION_DAYS)
        old_logs = self.sudo().search([("create_date", "<", limit_date)], limit=limit + 1)
        old_logs[:limit].unlink()
        return len(old_logs) > limit
