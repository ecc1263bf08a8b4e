from odoo import models


class ResCompany(models.Model):
    _inherit = "res.company"

    # Fulfilment settings (oms_allocation_policy …) go below this line.

    # Money settings (oms_refund_mode …) go below this line.

    # Returns settings (oms_return_restock_default …) go below this line.

    # Integration settings (oms_export_… , oms_tracking_…) go below this line.
