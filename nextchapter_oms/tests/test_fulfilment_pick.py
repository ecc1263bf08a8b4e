from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import OmsCommon


@tagged("post_install", "-at_install")
class TestFulfilmentPick(OmsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        location_model = cls.env["stock.location"]
        cls.bin_b = location_model.create({"name": "B-02", "location_id": cls.stock_location.id})
        cls.bin_a = location_model.create({"name": "A-01", "location_id": cls.stock_location.id})
        cls.book = cls._oms_create_product("Poetry Book", 18.0)
        cls.lamp = cls._oms_create_product("Reading Lamp", 40.0)
        cls._oms_set_stock(cls.book, cls.bin_b, 5)
        cls._oms_set_stock(cls.lamp, cls.bin_a, 5)

    def _order(self):
        order = self._oms_create_order(lines=[(self.book, 2), (self.lamp, 1)])
        self.assertEqual(order.picking_ids.state, "assigned")
        return order

    def test_pick_lines_in_walking_order(self):
        order = self._order()
        lines = order.oms_pick_line_ids
        self.assertEqual(order.oms_pick_line_count, 2)
        self.assertEqual(lines.mapped("location_id"), self.bin_a | self.bin_b)
        self.assertEqual(lines[0].location_id, self.bin_a, "sorted by bin location name")
        self.assertEqual(set(lines.mapped("oms_pick_state")), {"to_pick"})
        action = self.env.ref("nextchapter_oms.stock_move_line_action_pick_list")
        domain = [*safe_eval(action.domain), ("picking_id.sale_id", "=", order.id)]
        found = self.env["stock.move.line"].search(domain, order="location_id, id")
        self.assertEqual(found, lines)
        self.assertEqual(found.mapped("oms_warehouse_id"), self.warehouse)
        groups = self.env["stock.move.line"]._read_group(domain, ["oms_warehouse_id"], ["__count"])
        self.assertEqual(groups, [(self.warehouse, 2)])

    def test_picked_flow(self):
        order = self._order()
        book_line = order.oms_pick_line_ids.filtered(lambda ml: ml.product_id == self.book)
        lamp_line = order.oms_pick_line_ids - book_line
        book_line.action_oms_pick()
        self.assertEqual(book_line.oms_pick_state, "picked")
        self.assertTrue(book_line.picked)
        self.assertTrue(book_line.move_id.picked, "Odoo's picked flag")
        self.assertEqual(lamp_line.oms_pick_state, "to_pick")
        book_allocation = order.oms_allocation_ids.filtered(lambda a: a.product_id == self.book)
        self.assertEqual(book_allocation.state, "picked")
        lamp_line.action_oms_pick()
        order.picking_ids.action_oms_ship()
        self.assertEqual(order.picking_ids.state, "done")
        self.assertEqual(book_allocation.state, "shipped")
        self.assertEqual(order.oms_state, "shipped")
        self.assertFalse(order.oms_pick_line_ids, "nothing left to pick")
        with self.assertRaises(UserError) as error:
            book_line.action_oms_pick()
        self.assertIn("already done or cancelled", str(error.exception))

    def test_missing_flow(self):
        order = self._order()
        picking = order.picking_ids
        book_line = order.oms_pick_line_ids.filtered(lambda ml: ml.product_id == self.book)
        book_line.action_oms_mark_missing()
        self.assertEqual(book_line.oms_pick_state, "missing")
        self.assertEqual(book_line.oms_qty_missing, 2.0)
        self.assertEqual(book_line.quantity, 0.0)
        self.assertEqual(book_line.move_id.quantity, 0.0, "the reservation is released")
        quants = self.env["stock.quant"]._gather(self.book, self.bin_b)
        self.assertEqual(sum(quants.mapped("reserved_quantity")), 0.0)
        self.assertIn("Missing while picking", picking.message_ids[0].body)
        self.assertIn("B-02", picking.message_ids[0].body)
        book_allocation = order.oms_allocation_ids.filtered(lambda a: a.product_id == self.book)
        self.assertEqual(book_allocation.state, "backorder")
        with self.assertRaises(UserError) as error:
            book_line.action_oms_pick()
        self.assertIn("Nothing is reserved", str(error.exception))
        # shipping what is there leaves the missing books in a backorder
        picking.action_oms_ship()
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.move_ids.filtered("quantity").product_id, self.lamp)
        backorder = order.picking_ids - picking
        self.assertEqual(backorder.move_ids.product_id, self.book)
        self.assertEqual(backorder.move_ids.product_uom_qty, 2.0)
        self.assertEqual(order.oms_state, "partially_shipped")

    def test_access(self):
        oms_user = self._oms_new_user("oms_picker", "nextchapter_oms.group_oms_user")
        employee = self._oms_new_user("employee", "base.group_user")
        order = self._order()
        line = order.oms_pick_line_ids[0]
        with self.assertRaises(AccessError) as error:
            line.with_user(employee).action_oms_pick()
        self.assertIn("Only warehouse and Order Management users", str(error.exception))
        with self.assertRaises(AccessError):
            line.with_user(employee).action_oms_mark_missing()
        self.assertEqual(line.oms_pick_state, "to_pick")
        line.with_user(oms_user).action_oms_pick()
        self.assertEqual(line.oms_pick_state, "picked")

    # ------------------------------------------------------------------
    # documents
    # ------------------------------------------------------------------

    def test_pick_list_report_renders_sorted_by_bin(self):
        order = self._order()
        order_2 = self._oms_create_order(lines=[(self.lamp, 1)])
        pickings = order.picking_ids | order_2.picking_ids
        report = self.env.ref("nextchapter_oms.action_report_oms_pick_list")
        html = report._render_qweb_html(report.report_name, pickings.ids)[0].decode()
        self.assertIn(order.picking_ids.name, html)
        self.assertIn(order_2.picking_ids.name, html)
        self.assertLess(html.index("A-01"), html.index("B-02"), "walking order")
        self.assertIn("Poetry Book", html)
        content, content_type = report._render_qweb_pdf(report.report_name, pickings.ids)
        self.assertTrue(content)
        self.assertIn(content_type, ("pdf", "html"))
        action = order.action_oms_print_pick_list()
        self.assertEqual(action["report_name"], "nextchapter_oms.report_oms_pick_list")

    def test_packing_slip_renders(self):
        order = self._order()
        order.picking_ids.action_oms_ship()
        report = self.env.ref("stock.action_report_delivery")
        html = report._render_qweb_html(report.report_name, order.picking_ids.ids)[0].decode()
        self.assertIn(order.picking_ids.name, html)
        self.assertIn("Poetry Book", html)
