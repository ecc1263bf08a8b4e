from odoo import Command
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestOrderWorkspaceTour(HttpCase):
    """Smoke tour of the Orders workspace in a real browser: list, tabs, wizard, composer."""

    def test_order_workspace_tour(self):
        product = self.env["product.product"].create(
            {"name": "Tour T-shirt", "type": "consu", "is_storable": True, "list_price": 20.0}
        )
        warehouse = self.env["stock.warehouse"].search(
            [("company_id", "=", self.env.company.id)], limit=1
        )
        self.env["stock.quant"]._update_available_quantity(product, warehouse.lot_stock_id, 10)
        customer = self.env["res.partner"].create(
            {"name": "Tour Customer", "email": "tour@example.com"}
        )
        order = self.env["sale.order"].create(
            {
                "partner_id": customer.id,
                "oms_customer_note": "Ring twice",
                "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 3})],
            }
        )
        order.action_confirm()
        self.assertEqual(order.oms_state, "awaiting_payment")
        self.start_tour(
            "/odoo/action-nextchapter_oms.sale_order_action",
            "nextchapter_oms_order_tour",
            login="admin",
        )
        self.assertEqual(order.order_line.product_uom_qty, 3, "the wizard was closed unapplied")
