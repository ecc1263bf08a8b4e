from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    # Fulfilment settings (oms_allocation_policy …) go below this line.

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
