from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    oms_email_from = fields.Char(
        related="company_id.email",
        readonly=False,
        string="Shop E-mail Address",
        help="Order e-mails to customers are sent from this address, and replies come back to it.",
    )

    # Fulfilment settings go below this line.

    oms_allocation_policy = fields.Selection(
        related="company_id.oms_allocation_policy", readonly=False
    )

    # Money settings go below this line.

    oms_refund_mode = fields.Selection(related="company_id.oms_refund_mode", readonly=False)
    oms_refund_journal_id = fields.Many2one(
        related="company_id.oms_refund_journal_id", readonly=False
    )
    oms_refund_four_eyes = fields.Boolean(related="company_id.oms_refund_four_eyes", readonly=False)
    oms_refund_batch_interval_number = fields.Integer(
        string="Refund Batch Every",
        compute="_compute_oms_refund_batch_schedule",
        inverse="_inverse_oms_refund_batch_schedule",
        readonly=False,
    )
    oms_refund_batch_interval_type = fields.Selection(
        [("hours", "Hours"), ("days", "Days"), ("weeks", "Weeks")],
        string="Refund Batch Unit",
        compute="_compute_oms_refund_batch_schedule",
        inverse="_inverse_oms_refund_batch_schedule",
        readonly=False,
    )
    oms_refund_batch_nextcall = fields.Datetime(
        string="Next Refund Batch",
        compute="_compute_oms_refund_batch_schedule",
        inverse="_inverse_oms_refund_batch_schedule",
        readonly=False,
    )

    def _oms_refund_batch_cron(self):
        return self.env.ref("nextchapter_oms.ir_cron_oms_refund_batch", raise_if_not_found=False)

    def _compute_oms_refund_batch_schedule(self):
        cron = self._oms_refund_batch_cron()
        for settings in self:
            cron_sudo = cron.sudo() if cron else None
            settings.oms_refund_batch_interval_number = cron_sudo.interval_number if cron else 1
            settings.oms_refund_batch_interval_type = (
                cron_sudo.interval_type
                if cron and cron_sudo.interval_type in ("hours", "days", "weeks")
                else "days"
            )
            settings.oms_refund_batch_nextcall = cron_sudo.nextcall if cron else False

    def _inverse_oms_refund_batch_schedule(self):
        cron = self._oms_refund_batch_cron()
        if not cron or not self.env.user.has_group("nextchapter_oms.group_oms_manager"):
            return
        for settings in self:
            cron_sudo = cron.sudo()
            values = {
                "interval_number": max(settings.oms_refund_batch_interval_number, 1),
                "interval_type": settings.oms_refund_batch_interval_type or "days",
                "nextcall": settings.oms_refund_batch_nextcall or cron_sudo.nextcall,
            }
            changed = {name: value for name, value in values.items() if cron_sudo[name] != value}
            if changed:
                cron_sudo.write(changed)

    # Returns settings go below this line.

    oms_return_restock_default = fields.Boolean(
        related="company_id.oms_return_restock_default",
        readonly=False,
        string="Restock Returns by Default",
        help="New returns put the returned items back into stock unless customer service "
        "unticks Restock.",
    )

    # Integration settings go below this line.

    oms_export_enabled = fields.Boolean(related="company_id.oms_export_enabled", readonly=False)
    oms_export_url = fields.Char(related="company_id.oms_export_url", readonly=False)
    oms_export_secret = fields.Char(related="company_id.oms_export_secret", readonly=False)
    oms_export_timeout = fields.Integer(related="company_id.oms_export_timeout", readonly=False)
    oms_tracking_secret = fields.Char(related="company_id.oms_tracking_secret", readonly=False)
    oms_tracking_email = fields.Boolean(related="company_id.oms_tracking_email", readonly=False)
