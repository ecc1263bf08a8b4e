from urllib.parse import urlsplit

from odoo import api, fields, models
from odoo.exceptions import ValidationError

OMS_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class ResCompany(models.Model):
    _inherit = "res.company"

    # Fulfilment settings (oms_allocation_policy …) go below this line.

    oms_allocation_policy = fields.Selection(
        [
            ("single_warehouse", "Single warehouse"),
            ("split_by_stock", "Split by stock"),
        ],
        string="Allocation Policy",
        required=True,
        default="single_warehouse",
        help="Single warehouse: Odoo's own behaviour, the whole order ships from the "
        "order's warehouse.\n"
        "Split by stock: one warehouse ships the whole order when it can, else each line "
        "is sourced from the warehouses that have it (in the warehouses' sequence); what "
        "no warehouse has waits as a backorder in the first warehouse.",
    )

    # Money settings (oms_refund_mode …) go below this line.

    oms_refund_mode = fields.Selection(
        [
            ("automatic", "Automatic"),
            ("batch", "Batch"),
            ("manual", "Manual approval"),
        ],
        string="Refund Mode",
        required=True,
        default="manual",
        help="How refunds of credit notes reach the payment provider.\n"
        "Automatic: sent right after the credit note is posted.\n"
        "Batch: sent by the scheduled refund batch, and can be held or cancelled until then.\n"
        "Manual approval: sent once an Order Management manager approves them.",
    )
    oms_refund_journal_id = fields.Many2one(
        "account.journal",
        string="Refund Payout Journal",
        check_company=True,
        domain="[('type', 'in', ('bank', 'cash'))]",
        help="Refunds of orders paid without a refundable online payment are registered as "
        "outbound payments in this journal.",
    )
    oms_refund_four_eyes = fields.Boolean(
        string="Four-Eyes Refund Approval",
        help="A refund cannot be approved by the user who created its credit note.",
    )

    # Returns settings (oms_return_restock_default …) go below this line.

    oms_return_restock_default = fields.Boolean(
        string="Restock Returns by Default",
        default=True,
        help="New returns put the returned items back into stock unless customer service "
        "unticks Restock.",
    )

    # Integration settings (oms_export_… , oms_tracking_…) go below this line.

    oms_export_enabled = fields.Boolean(
        string="Export Processed Orders",
        help="Send every confirmed order to the shop's external system (ERP or warehouse).",
    )
    oms_export_url = fields.Char(
        string="Export URL",
        help="HTTPS address that receives the orders as JSON (plain http only to localhost).",
    )
    oms_export_secret = fields.Char(
        string="Export Secret",
        groups="base.group_system",
        copy=False,
        help="Shared secret: each export carries the header X-OMS-Signature, the hex "
        "HMAC-SHA256 of the request body with this secret.",
    )
    oms_export_timeout = fields.Integer(
        string="Export Timeout",
        default=10,
        help="Seconds to wait for the external system before the export counts as failed.",
    )
    oms_tracking_secret = fields.Char(
        string="Tracking Import Secret",
        groups="base.group_system",
        copy=False,
        help="Shared secret of the carrier or middleware calling /oms/tracking: the header "
        "X-OMS-Signature must be the hex HMAC-SHA256 of the request body with this secret.",
    )
    oms_tracking_email = fields.Boolean(
        string="E-mail Customers on Tracking Import",
        help="When a carrier reports a shipment as shipped, e-mail the customer the track & "
        "trace link.",
    )

    @api.constrains("oms_export_url")
    def _check_oms_export_url(self):
        for company in self:
            if company.oms_export_url and not self._oms_is_valid_export_url(company.oms_export_url):
                raise ValidationError(
                    self.env._(
                        "The export URL %(url)s must use https "
                        "(plain http is only allowed to localhost).",
                        url=company.oms_export_url,
                    )
                )

    @api.constrains("oms_export_timeout")
    def _check_oms_export_timeout(self):
        for company in self:
            if not 1 <= company.oms_export_timeout <= 120:
                raise ValidationError(
                    self.env._("The export timeout must be between 1 and 120 seconds.")
                )

    @api.model
    def _oms_is_valid_export_url(self, url):
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if not parts.hostname:
            return False
        if parts.scheme == "https":
            return True
        return parts.scheme == "http" and parts.hostname in OMS_LOCAL_HOSTS
