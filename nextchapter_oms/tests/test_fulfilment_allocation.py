from lxml import etree

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import OmsCommon


@tagged("post_install", "-at_install")
class TestFulfilmentAllocation(OmsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.oms_allocation_policy = "split_by_stock"
        cls.allocation_model = cls.env["oms.allocation"]
        # stock per warehouse: (main, second)
        cls.p_both = cls._oms_create_product("Notebook", 12.0)
        cls.p_second = cls._oms_create_product("Tote Bag", 20.0)
        cls.p_main = cls._oms_create_product("Pen", 3.0)
        cls.p_split = cls._oms_create_product("Sticker Set", 5.0)
        cls.p_none = cls._oms_create_product("Backorder Book", 25.0)
        for product, main_qty, second_qty in (
            (cls.p_both, 5, 5),
            (cls.p_second, 0, 5),
            (cls.p_main, 2, 0),
            (cls.p_split, 2, 3),
        ):
            if main_qty:
                cls._oms_set_stock(product, cls.stock_location, main_qty)
            if second_qty:
                cls._oms_set_stock(product, cls.stock_location_2, second_qty)

    def _allocations(self, order):
        return {(alloc.product_id, alloc.warehouse_id): alloc for alloc in order.oms_allocation_ids}

    def _receive(self, product, warehouse, quantity):
        """Receive goods with a validated receipt of ``warehouse``."""
        picking_type = warehouse.in_type_id
        receipt = self.env["stock.picking"].create(
            {
                "picking_type_id": picking_type.id,
                "location_id": self.env.ref("stock.stock_location_suppliers").id,
                "location_dest_id": warehouse.lot_stock_id.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": product.name,
                            "product_id": product.id,
                            "product_uom_qty": quantity,
                            "product_uom": product.uom_id.id,
                            "location_id": self.env.ref("stock.stock_location_suppliers").id,
                            "location_dest_id": warehouse.lot_stock_id.id,
                        }
                    )
                ],
            }
        )
        receipt.action_confirm()
        receipt.move_ids.quantity = quantity
        receipt.move_ids.picked = True
        receipt.button_validate()
        self.assertEqual(receipt.state, "done")
        return receipt

    # ------------------------------------------------------------------
    # confirmation
    # ------------------------------------------------------------------

    def test_settings_form(self):
        self.company.oms_allocation_policy = "single_warehouse"
        with Form(self.env["res.config.settings"]) as settings:
            self.assertEqual(settings.oms_allocation_policy, "single_warehouse")
            settings.oms_allocation_policy = "split_by_stock"
        self.assertEqual(self.company.oms_allocation_policy, "split_by_stock")

    def test_whole_order_from_one_warehouse(self):
        # the main warehouse lacks the tote bag: the second ships everything
        order = self._oms_create_order(lines=[(self.p_both, 2), (self.p_second, 1)])
        self.assertEqual(len(order.picking_ids), 1, "one shipment")
        self.assertEqual(order.picking_ids.picking_type_id.warehouse_id, self.warehouse_2)
        self.assertEqual(order.picking_ids.state, "assigned")
        allocations = order.oms_allocation_ids
        self.assertEqual(len(allocations), 2)
        self.assertEqual(allocations.warehouse_id, self.warehouse_2)
        self.assertEqual(allocations.location_id, self.stock_location_2)
        self.assertEqual(set(allocations.mapped("state")), {"reserved"})
        self.assertEqual(allocations.picking_id, order.picking_ids)
        # both warehouses could ship it: the first in sequence does
        order_2 = self._oms_create_order(lines=[(self.p_both, 1), (self.product_1, 1)])
        self.assertEqual(order_2.picking_ids.picking_type_id.warehouse_id, self.warehouse)
        self.warehouse.sequence = 30
        order_3 = self._oms_create_order(lines=[(self.p_both, 1)])
        self.assertEqual(order_3.picking_ids.picking_type_id.warehouse_id, self.warehouse_2)

    def test_split_over_two_warehouses(self):
        order = self._oms_create_order(lines=[(self.p_second, 1), (self.p_main, 2)])
        self.assertEqual(len(order.picking_ids), 2, "two shipments")
        by_warehouse = {p.picking_type_id.warehouse_id: p for p in order.picking_ids}
        self.assertEqual(by_warehouse[self.warehouse].move_ids.product_id, self.p_main)
        self.assertEqual(by_warehouse[self.warehouse_2].move_ids.product_id, self.p_second)
        self.assertEqual(set(order.picking_ids.mapped("state")), {"assigned"})
        self.assertEqual(set(order.picking_ids.mapped("oms_shipment_state")), {"not_shipped"})
        allocations = self._allocations(order)
        self.assertEqual(allocations[self.p_main, self.warehouse].quantity, 2.0)
        self.assertEqual(allocations[self.p_main, self.warehouse].state, "reserved")
        self.assertEqual(
            allocations[self.p_main, self.warehouse].picking_id, by_warehouse[self.warehouse]
        )
        self.assertEqual(allocations[self.p_second, self.warehouse_2].state, "reserved")
        self.assertEqual(order.oms_shipment_count, 2)
        # shipping one of them: partially shipped until the other one leaves
        by_warehouse[self.warehouse].action_oms_ship()
        self.assertEqual(allocations[self.p_main, self.warehouse].state, "shipped")
        self.assertEqual(allocations[self.p_main, self.warehouse].qty_shipped, 2.0)
        self.assertEqual(order.oms_state, "partially_shipped")
        by_warehouse[self.warehouse_2].action_oms_ship()
        self.assertEqual(order.oms_state, "shipped")

    def test_one_line_split_over_warehouses(self):
        order = self._oms_create_order(lines=[(self.p_split, 4)])
        allocations = self._allocations(order)
        self.assertEqual(len(allocations), 2)
        self.assertEqual(allocations[self.p_split, self.warehouse].quantity, 2.0)
        self.assertEqual(allocations[self.p_split, self.warehouse_2].quantity, 2.0)
        self.assertEqual(set(order.oms_allocation_ids.mapped("state")), {"reserved"})
        self.assertEqual(len(order.picking_ids), 2)
        self.assertEqual(sum(order.picking_ids.move_ids.mapped("product_uom_qty")), 4.0)

    def test_backorder_for_missing_stock(self):
        order = self._oms_create_order(lines=[(self.p_main, 5), (self.p_none, 1)])
        self.assertEqual(len(order.picking_ids), 1)
        self.assertEqual(order.picking_ids.picking_type_id.warehouse_id, self.warehouse)
        allocations = self._allocations(order)
        pen = allocations[self.p_main, self.warehouse]
        self.assertEqual(pen.quantity, 5.0)
        self.assertEqual(pen.qty_reserved, 2.0)
        self.assertEqual(pen.state, "backorder")
        book = allocations[self.p_none, self.warehouse]
        self.assertEqual(book.quantity, 1.0)
        self.assertEqual(book.qty_reserved, 0.0)
        self.assertEqual(book.state, "backorder")

    def test_single_warehouse_policy_is_odoo_default(self):
        self.company.oms_allocation_policy = "single_warehouse"
        order = self._oms_create_order(lines=[(self.p_both, 1), (self.p_second, 1)])
        self.assertEqual(len(order.picking_ids), 1)
        self.assertEqual(order.picking_ids.picking_type_id.warehouse_id, self.warehouse)
        allocations = self._allocations(order)
        self.assertEqual(allocations[self.p_both, self.warehouse].state, "reserved")
        self.assertEqual(allocations[self.p_second, self.warehouse].state, "backorder")

    # ------------------------------------------------------------------
    # re-allocation
    # ------------------------------------------------------------------

    def test_reallocation_after_receipt_in_other_warehouse(self):
        order = self._oms_create_order(lines=[(self.p_main, 5)])
        first_shipment = order.picking_ids
        self.assertEqual(self._allocations(order)[self.p_main, self.warehouse].state, "backorder")
        self._receive(self.p_main, self.warehouse_2, 3)
        order.action_oms_allocate()
        allocations = self._allocations(order)
        main_share = allocations[self.p_main, self.warehouse]
        second_share = allocations[self.p_main, self.warehouse_2]
        self.assertEqual(main_share.quantity, 2.0)
        self.assertEqual(main_share.state, "reserved")
        self.assertEqual(second_share.quantity, 3.0)
        self.assertEqual(second_share.state, "reserved")
        self.assertEqual(first_shipment.move_ids.product_uom_qty, 2.0)
        self.assertEqual(first_shipment.state, "assigned")
        second_shipment = order.picking_ids - first_shipment
        self.assertEqual(second_shipment.picking_type_id.warehouse_id, self.warehouse_2)
        self.assertEqual(second_shipment.state, "assigned")
        self.assertIn("Allocation updated", order.message_ids[0].body)
        self.assertEqual(order.order_line.oms_qty_to_ship, 5.0)

    def test_reallocation_after_receipt_in_same_warehouse(self):
        order = self._oms_create_order(lines=[(self.p_none, 2)])
        shipment = order.picking_ids
        self.assertEqual(shipment.state, "confirmed")
        self._receive(self.p_none, self.warehouse, 2)
        order.action_oms_allocate()
        self.assertEqual(order.picking_ids, shipment, "reserved where it was allocated")
        self.assertEqual(shipment.state, "assigned")
        self.assertEqual(self._allocations(order)[self.p_none, self.warehouse].state, "reserved")

    def test_reallocation_is_idempotent(self):
        order = self._oms_create_order(lines=[(self.p_main, 5), (self.p_second, 1)])
        self._receive(self.p_main, self.warehouse_2, 1)
        order.action_oms_allocate()
        snapshot = (
            order.picking_ids.ids,
            order.picking_ids.move_ids.mapped(lambda m: (m.id, m.product_uom_qty, m.state)),
            order.oms_allocation_ids.mapped(lambda a: (a.id, a.quantity, a.state)),
        )
        message_count = len(order.message_ids)
        order.action_oms_allocate()
        order.action_oms_allocate()
        self.assertEqual(
            snapshot,
            (
                order.picking_ids.ids,
                order.picking_ids.move_ids.mapped(lambda m: (m.id, m.product_uom_qty, m.state)),
                order.oms_allocation_ids.mapped(lambda a: (a.id, a.quantity, a.state)),
            ),
        )
        self.assertEqual(len(order.message_ids), message_count, "nothing changed, nothing said")
        self.assertEqual(sum(order.picking_ids.move_ids.mapped("product_uom_qty")), 6.0)

    def test_reallocation_reopens_cancelled_shipment(self):
        order = self._oms_create_order(lines=[(self.p_both, 2)])
        shipment = order.picking_ids
        shipment.action_oms_cancel()
        self.assertEqual(self._allocations(order)[self.p_both, self.warehouse].state, "cancelled")
        order.action_oms_allocate()
        new_shipment = order.picking_ids - shipment
        self.assertEqual(len(new_shipment), 1)
        self.assertEqual(new_shipment.move_ids.product_uom_qty, 2.0)
        self.assertEqual(self._allocations(order)[self.p_both, self.warehouse].state, "reserved")

    def test_allocate_refused(self):
        order = self._oms_create_order(lines=[(self.p_both, 1)])
        order._action_cancel()
        with self.assertRaises(UserError) as error:
            order.action_oms_allocate()
        self.assertIn("is cancelled: it cannot be allocated", str(error.exception))
        quotation = self._oms_create_order(lines=[(self.p_both, 1)], confirm=False)
        self.assertFalse(quotation.oms_can_allocate)
        with self.assertRaises(UserError) as error:
            quotation.action_oms_allocate()
        self.assertIn("is not confirmed", str(error.exception))

    # ------------------------------------------------------------------
    # allocation states follow the moves
    # ------------------------------------------------------------------

    def test_states_follow_moves_and_line_cancel(self):
        order = self._oms_create_order(lines=[(self.p_split, 4), (self.p_second, 1)])
        allocations = self._allocations(order)
        self.assertEqual(len(order.picking_ids), 2)
        # the cancel items wizard lowers the newest open moves first
        wizard = Form(self.env["oms.line.cancel"].with_context(default_order_id=order.id))
        with wizard.line_ids.edit(0) as line:
            line.quantity = 4.0
        wizard.save().action_apply()
        split_shares = (
            allocations[self.p_split, self.warehouse] | allocations[self.p_split, self.warehouse_2]
        )
        self.assertEqual(set(split_shares.mapped("state")), {"cancelled"})
        self.assertEqual(sum(split_shares.mapped("quantity")), 0.0)
        self.assertEqual(allocations[self.p_second, self.warehouse_2].state, "reserved")
        shipment = allocations[self.p_second, self.warehouse_2].picking_id
        shipment.move_ids.picked = True
        self.assertEqual(allocations[self.p_second, self.warehouse_2].state, "picked")
        shipment.action_oms_ship()
        self.assertEqual(allocations[self.p_second, self.warehouse_2].state, "shipped")
        shipment.action_oms_cancel_shipped()
        self.assertEqual(
            allocations[self.p_second, self.warehouse_2].qty_shipped,
            0.0,
            "the shipped quantity came back",
        )
        self.assertEqual(allocations[self.p_second, self.warehouse_2].state, "reserved")

    def test_allocations_menu_filters(self):
        order = self._oms_create_order(lines=[(self.p_main, 3), (self.p_second, 1)])
        action = self.env.ref("nextchapter_oms.oms_allocation_action")
        self.assertEqual(action.res_model, "oms.allocation")
        arch = etree.fromstring(
            self.allocation_model.get_view(action.search_view_id.id, "search")["arch"]
        )

        def search(filter_name):
            domain = safe_eval(arch.xpath(f"//filter[@name='{filter_name}']")[0].get("domain"))
            return self.allocation_model.search([("order_id", "=", order.id), *domain])

        self.assertEqual(search("backorder").product_id, self.p_main)
        self.assertEqual(search("reserved").product_id, self.p_second)
        self.assertEqual(len(search("open")), 2)
        self.assertFalse(search("shipped"))
        groups = self.allocation_model._read_group(
            [("order_id", "=", order.id)], ["warehouse_id"], ["__count"]
        )
        self.assertEqual(dict(groups), {self.warehouse: 1, self.warehouse_2: 1})
        # the order form shows the Allocations page and the smart button count
        with Form(order) as form:
            self.assertEqual(form.oms_allocation_count, 2)
            self.assertTrue(form.oms_can_allocate)

    # ------------------------------------------------------------------
    # access
    # ------------------------------------------------------------------

    def test_access(self):
        oms_user = self._oms_new_user("oms_allocator", "nextchapter_oms.group_oms_user")
        salesman = self._oms_new_user("salesman", "sales_team.group_sale_salesman_all_leads")
        order = self._oms_create_order(lines=[(self.p_main, 3)])
        allocations = order.oms_allocation_ids
        self.assertEqual(len(allocations.with_user(oms_user).read(["state"])), 1)
        with self.assertRaises(AccessError):
            allocations.with_user(salesman).read(["state"])
        with self.assertRaises(AccessError):
            allocations.with_user(oms_user).unlink()
        self._receive(self.p_main, self.warehouse_2, 1)
        with self.assertRaises(AccessError) as error:
            order.with_user(salesman).action_oms_allocate()
        self.assertIn("Only Order Management users", str(error.exception))
        order.with_user(oms_user).action_oms_allocate()
        self.assertEqual(len(order.oms_allocation_ids), 2)
        # a salesman confirming an order still gets it allocated
        order_2 = self._oms_create_order(lines=[(self.p_both, 1)], confirm=False)
        order_2.with_user(salesman).action_confirm()
        self.assertEqual(order_2.oms_allocation_ids.state, "reserved")

    # ------------------------------------------------------------------
    # batch size
    # ------------------------------------------------------------------

    def _batch_orders(self, count):
        products = (self.p_both, self.p_split, self.product_1)
        return self.env["sale.order"].create(
            [
                {
                    "partner_id": self.customer.id,
                    "warehouse_id": self.warehouse.id,
                    "order_line": [
                        Command.create({"product_id": product.id, "product_uom_qty": 1})
                        for product in products
                    ],
                }
                for _i in range(count)
            ]
        )

    def _demands(self, orders):
        return {
            order: [(line, line.product_uom_qty) for line in order.order_line] for order in orders
        }

    def test_plan_query_count_does_not_grow_with_batch(self):
        """Planning a batch reads the stock of all its products at once: the same
        fixed number of queries for 2 and for 6 orders (3 lines each)."""
        small, large = self._batch_orders(2), self._batch_orders(6)
        self._oms_set_stock(self.p_split, self.stock_location, 10)
        self._oms_set_stock(self.p_both, self.stock_location, 10)
        for orders in (small, large):
            demands = self._demands(orders)
            self.env.invalidate_all()
            self.allocation_model._oms_plan(demands)  # warm the access rule caches
            self.env.invalidate_all()
            with self.assertQueryCount(10):
                plan = self.allocation_model._oms_plan(demands)
            self.assertEqual(len(plan), 3 * len(orders))
            self.assertEqual(
                {shares[0][0] for shares in plan.values()},
                {self.warehouse.id},
                "the main warehouse ships every order whole",
            )

    def test_confirm_query_count_per_order_does_not_grow(self):
        self._oms_set_stock(self.p_split, self.stock_location, 50)
        self._oms_set_stock(self.p_both, self.stock_location_2, 50)
        self._batch_orders(1).action_confirm()  # warm the caches
        counts = {}
        for size in (2, 6):
            orders = self._batch_orders(size)
            self.env.flush_all()
            self.env.invalidate_all()
            start = self.env.cr.sql_log_count
            orders.action_confirm()
            self.env.flush_all()
            counts[size] = self.env.cr.sql_log_count - start
            self.assertEqual(len(orders.oms_allocation_ids), 3 * size)
            self.assertEqual(set(orders.oms_allocation_ids.mapped("state")), {"reserved"})
        self.assertLessEqual(counts[6] / 6, counts[2] / 2, counts)
