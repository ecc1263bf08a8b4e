from odoo import fields, models, tools
from odoo.tools import SQL


class OmsReturnNoticeComparison(models.Model):
    """Announced vs. received per product of a return notice (database view)."""

    _name = "oms.return.notice.comparison"
    _description = "Return Notice Comparison"
    _auto = False
    _order = "notice_id, product_id"
    _check_company_auto = True

    notice_id = fields.Many2one("oms.return.notice", string="Return Notice", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    product_id = fields.Many2one("product.product", readonly=True)
    qty_announced = fields.Float(
        string="Announced", digits="Product Unit of Measure", readonly=True
    )
    qty_received = fields.Float(string="Received", digits="Product Unit of Measure", readonly=True)
    qty_difference = fields.Float(
        string="Difference",
        digits="Product Unit of Measure",
        readonly=True,
        help="Received less announced.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(
            SQL(
                """
                CREATE OR REPLACE VIEW %s AS (
                    SELECT row_number() OVER (ORDER BY notice_id, product_id) AS id,
                           notice_id,
                           company_id,
                           product_id,
                           SUM(qty_announced) AS qty_announced,
                           SUM(qty_received) AS qty_received,
                           SUM(qty_received) - SUM(qty_announced) AS qty_difference
                      FROM (
                            SELECT line.notice_id,
                                   notice.company_id,
                                   line.product_id,
                                   line.quantity AS qty_announced,
                                   0.0 AS qty_received
                              FROM oms_return_notice_line line
                              JOIN oms_return_notice notice ON notice.id = line.notice_id
                         UNION ALL
                            SELECT ret.notice_id,
                                   ret.company_id,
                                   line.product_id,
                                   0.0 AS qty_announced,
                                   line.quantity AS qty_received
                              FROM oms_return_line line
                              JOIN oms_return ret ON ret.id = line.return_id
                             WHERE ret.notice_id IS NOT NULL
                               AND ret.state = 'done'
                           ) AS rows
                  GROUP BY notice_id, company_id, product_id
                )
                """,
                SQL.identifier(self._table),
            )
        )
