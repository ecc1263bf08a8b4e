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

    # Money settings go below this line.

    # Returns settings go below this line.

    # Integration settings go below this line.
