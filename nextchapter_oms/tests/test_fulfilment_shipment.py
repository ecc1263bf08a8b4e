from unittest.mock import patch

from lxml import etree

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tools.safe_eval import safe_eval

from .common import OmsCommon


@tagged("post_install", "-at_install")
class TestFulfilmentShipment(OmsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_scarce = cls._oms_create_product("Limited Print", 30.0)
        cls._oms_set_stock(cls.product_scarce, cls.stock_location, 1)
        cls.product_none = cls._oms_create_product("Sold Out Poster", 15.0)
        cls.carrier = cls.env["delivery.carrier"].create(
            {
                "name": "PostNL",
                "delivery_type": "fixed",
                "fixed_price": 5.0,
                "product_id": cls.env["product.product"]
                .create({"name": "PostNL shipping", "type": "service"})
                .id,
                "tracking_url": "https://track.example.com/<shipmenttrackingnumber>",
            }
        )

    def _shipment(self, order):
        shipments = order.picking_ids.filtered(lambda p: p.oms_shipment_state == "not_shipped")
        self.assertEqual(len(shipments), 1)
        return shipments

    # ------------------------------------------------------------------
    # packages and track & trace
    # ------------------------------------------------------------------

    def test_package_count_rules(self):
        order = self._oms_create_order()
        picking = order.picking_ids
        self.assertEqual(picking.oms_package_count, 1)
        with Form(picking) as form:
            form.oms_package_count = 3
        self.assertEqual(picking.oms_package_count, 3)
        with self.assertRaises(ValidationError) as error:
            picking.oms_package_count = 0
        self.assertIn("at least one package", str(error.exception))
        picking.action_oms_ship()
        self.assertEqual(picking.state, "done")
        with self.assertRaises(UserError) as error:
            picking.oms_package_count = 2
        self.assertIn("can no longer be changed", str(error.exception))
        self.assertEqual(picking.oms_package_count, 3)
        with Form(picking) as form:
            self.assertTrue(form._get_modifier("oms_package_count", "readonly"))

    def test_tracking_link_manual_else_carrier(self):
        order = self._oms_create_order()
        picking = order.picking_ids
        picking.carrier_id = self.carrier
        self.assertFalse(picking.oms_tracking_link)
        picking.carrier_tracking_ref = "3SABC123"
        self.assertEqual(picking.oms_tracking_link, "https://track.example.com/3SABC123")
        with Form(picking) as form:
            form.oms_tracking_url = "https://parcel.example.org/t/987"
        self.assertEqual(picking.oms_tracking_link, "https://parcel.example.org/t/987")

    # ------------------------------------------------------------------
    # ship
    # ------------------------------------------------------------------

    def test_ship_full(self):
        order = self._oms_create_order()
        self._oms_pay_online(order)
        picking = order.picking_ids
        self.assertTrue(picking.oms_can_ship)
        picking.action_oms_ship()
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.oms_shipment_state, "shipped")
        self.assertEqual(order.picking_ids, picking, "no backorder")
        self.assertEqual(order.order_line.mapped("qty_delivered"), [2.0, 1.0])
        self.assertEqual(order.oms_state, "shipped")

    def test_ship_partial_leaves_backorder(self):
        order = self._oms_create_order(lines=[(self.product_scarce, 3), (self.product_3, 2)])
        picking = order.picking_ids
        self.assertTrue(picking.oms_can_ship, "one print and the mugs are reserved")
        picking.action_oms_ship()
        self.assertEqual(picking.state, "done")
        backorder = order.picking_ids - picking
        self.assertEqual(backorder.backorder_id, picking)
        self.assertEqual(backorder.move_ids.product_id, self.product_scarce)
        self.assertEqual(backorder.move_ids.product_uom_qty, 2.0)
        self.assertEqual(picking.move_ids.mapped("quantity"), [1.0, 2.0])
        self.assertEqual(order.oms_state, "partially_shipped")
        self.assertFalse(backorder.oms_can_ship)
        with self.assertRaises(UserError) as error:
            backorder.action_oms_ship()
        self.assertIn("nothing reserved", str(error.exception))

    def test_ship_refused_without_reservation(self):
        order = self._oms_create_order(lines=[(self.product_none, 1)])
        picking = order.picking_ids
        self.assertFalse(picking.oms_can_ship)
        with self.assertRaises(UserError) as error:
            picking.action_oms_ship()
        self.assertIn("has nothing reserved to ship", str(error.exception))
        self.assertEqual(picking.state, "confirmed")

    def test_status_shipped_only_after_last_shipment(self):
        order = self._oms_create_order(lines=[(self.product_scarce, 2), (self.product_3, 1)])
        self._oms_pay_online(order)
        self.assertEqual(order.oms_state, "awaiting_shipment")
        first = order.picking_ids
        first.action_oms_ship()
        backorder = order.picking_ids - first
        self.assertEqual(order.oms_state, "partially_shipped")
        self._oms_set_stock(self.product_scarce, self.stock_location, 1)
        backorder.action_assign()
        self.assertEqual(order.oms_state, "partially_shipped")
        backorder.action_oms_ship()
        self.assertEqual(order.oms_state, "shipped")

    def test_ship_and_email(self):
        order = self._oms_create_order()
        picking = order.picking_ids
        picking.write(
            {
                "carrier_id": self.carrier.id,
                "carrier_tracking_ref": "3SXYZ42",
                "oms_package_count": 2,
            }
        )
        picking.action_oms_ship_and_email()
        self.assertEqual(picking.state, "done")
        message = picking.message_ids.filtered(
            lambda m: m.subject and "has been shipped" in m.subject
        )
        self.assertEqual(len(message), 1)
        self.assertIn(order.name, message.subject)
        self.assertEqual(message.partner_ids, self.customer)
        self.assertIn("https://track.example.com/3SXYZ42", message.body)
        self.assertIn("Organic T-shirt", message.body)
        mail = self.env["mail.mail"].search([("mail_message_id", "=", message.id)])
        self.assertEqual(len(mail), 1)
        self.assertIn("https://track.example.com/3SXYZ42", mail.body_html)
        self.assertIn("2 package(s)", mail.body_html)

    # ------------------------------------------------------------------
    # pre-announce
    # ------------------------------------------------------------------

    def test_pre_announce_without_integration(self):
        order = self._oms_create_order()
        picking = order.picking_ids
        picking.carrier_id = self.carrier
        self.assertTrue(picking.oms_can_pre_announce)
        picking.action_oms_pre_announce()
        self.assertTrue(picking.oms_pre_announced_date)
        self.assertFalse(picking.carrier_tracking_ref, "a fixed-price carrier is not called")
        self.assertIn("Shipment pre-announced for carrier PostNL.", picking.message_ids[0].body)
        picking.action_oms_ship()
        self.assertFalse(picking.oms_can_pre_announce)
        with self.assertRaises(UserError) as error:
            picking.action_oms_pre_announce()
        self.assertIn("already done or cancelled", str(error.exception))

    def test_pre_announce_with_carrier_integration(self):
        """A carrier connector (stood in for by a patched ``<type>_send_shipping``,
        the call that goes over the network) books the shipment once."""
        carrier = self.carrier.copy({"name": "Connected Carrier"})
        self.env.cr.execute(
            "UPDATE delivery_carrier SET delivery_type = 'oms_test' WHERE id = %s",
            [carrier.id],
        )
        carrier.invalidate_recordset(["delivery_type"])
        order = self._oms_create_order()
        picking = order.picking_ids
        picking.carrier_id = carrier
        calls = []

        def send_shipping(carrier_self, pickings):
            calls.append(pickings.ids)
            return [{"exact_price": 0.0, "tracking_number": "CC-0001"} for _p in pickings]

        carrier_class = type(self.env["delivery.carrier"])
        with patch.object(carrier_class, "oms_test_send_shipping", send_shipping, create=True):
            picking.action_oms_pre_announce()
            self.assertEqual(calls, [picking.ids])
            self.assertEqual(picking.carrier_tracking_ref, "CC-0001")
            self.assertTrue(picking.oms_pre_announced_date)
            self.assertTrue(
                any("CC-0001" in m.body for m in picking.message_ids),
                "the chatter records the pre-announcement",
            )
            picking.action_oms_pre_announce()
            self.assertEqual(len(calls), 1, "a second pre-announce does not book twice")

    def test_pre_announce_refused_when_cancelled(self):
        order = self._oms_create_order()
        picking = order.picking_ids
        picking.action_oms_cancel()
        with self.assertRaises(UserError) as error:
            picking.action_oms_pre_announce()
        self.assertIn("already done or cancelled", str(error.exception))
        self.assertFalse(picking.oms_pre_announced_date)

    # ------------------------------------------------------------------
    # cancel
    # ------------------------------------------------------------------

    def test_cancel_open_shipment(self):
        order = self._oms_create_order()
        picking = order.picking_ids
        self.assertTrue(picking.oms_can_cancel)
        picking.action_oms_cancel()
        self.assertEqual(picking.state, "cancel")
        self.assertEqual(picking.oms_shipment_state, "cancelled")
        self.assertIn(f"Shipment {picking.name} cancelled.", picking.message_ids[0].body)
        self.assertTrue(any(picking.name in (m.body or "") for m in order.message_ids))
        self.assertEqual(
            self.env["stock.quant"]._get_available_quantity(self.product_1, self.stock_location),
            100.0,
            "the reservation is released",
        )
        with self.assertRaises(UserError) as error:
            picking.action_oms_cancel()
        self.assertIn("already cancelled", str(error.exception))

    def test_cancel_shipped_returns_goods_and_reopens(self):
        order = self._oms_create_order(lines=[(self.product_1, 2)])
        self._oms_pay_online(order)
        picking = order.picking_ids
        picking.action_oms_ship()
        self.assertEqual(order.oms_state, "shipped")
        stock_after_ship = self.product_1.with_context(
            location=self.stock_location.id
        ).qty_available
        self.assertEqual(stock_after_ship, 98.0)
        self.assertTrue(picking.oms_can_cancel_shipped)
        picking.action_oms_cancel_shipped()
        self.assertEqual(picking.oms_shipment_state, "cancelled")
        self.assertTrue(picking.oms_cancelled_after_shipping)
        self.assertEqual(picking.state, "done", "the shipment's history is kept")
        self.assertEqual(
            self.product_1.with_context(location=self.stock_location.id).qty_available,
            100.0,
            "the goods are back in stock",
        )
        self.assertEqual(order.order_line.qty_delivered, 0.0)
        self.assertEqual(order.order_line.oms_qty_to_ship, 2.0)
        new_shipment = self._shipment(order)
        self.assertEqual(new_shipment.move_ids.product_uom_qty, 2.0)
        self.assertEqual(new_shipment.state, "assigned")
        self.assertEqual(order.oms_state, "awaiting_shipment")
        self.assertTrue(any("cancelled after shipping" in m.body for m in picking.message_ids))
        self.assertTrue(any("cancelled after shipping" in m.body for m in order.message_ids))
        self.assertFalse(picking.oms_can_cancel_shipped)
        with self.assertRaises(UserError) as error:
            picking.action_oms_cancel_shipped()
        self.assertIn("already cancelled after shipping", str(error.exception))
        new_shipment.action_oms_ship()
        self.assertEqual(order.oms_state, "shipped")

    def test_cancel_shipped_with_other_shipment_done(self):
        order = self._oms_create_order(lines=[(self.product_scarce, 2), (self.product_3, 1)])
        self._oms_set_stock(self.product_scarce, self.stock_location, 1)
        first = order.picking_ids
        self._oms_ship(first, {self.product_scarce: 1.0, self.product_3: 1.0})
        second = order.picking_ids - first
        second.action_oms_ship()
        self.assertEqual(order.oms_state, "shipped")
        second.action_oms_cancel_shipped()
        self.assertEqual(order.oms_state, "partially_shipped")
        reopened = self._shipment(order)
        self.assertEqual(reopened.move_ids.product_id, self.product_scarce)
        self.assertEqual(reopened.move_ids.product_uom_qty, 1.0)

    def test_cancel_refused_once_order_cancelled(self):
        order = self._oms_create_order()
        picking = order.picking_ids
        picking.action_oms_ship()
        with self.assertRaises(UserError) as error:
            picking.action_oms_cancel()
        self.assertIn("use Cancel Shipped Shipment", str(error.exception))
        order._action_cancel()
        self.assertEqual(order.state, "cancel")
        self.assertFalse(picking.oms_can_cancel_shipped)
        with self.assertRaises(UserError) as error:
            picking.action_oms_cancel_shipped()
        self.assertIn(
            "is cancelled: its shipments can no longer be cancelled", str(error.exception)
        )
        self.assertFalse(picking.oms_cancelled_after_shipping)
        open_order = self._oms_create_order()
        open_order._action_cancel()
        with self.assertRaises(UserError) as error:
            open_order.picking_ids.action_oms_cancel()
        self.assertIn(
            "is cancelled: its shipments can no longer be cancelled", str(error.exception)
        )

    def test_shipments_menu_filters_and_search(self):
        shipped = self._oms_create_order(lines=[(self.product_1, 1)])
        shipped.picking_ids.action_oms_ship()
        open_order = self._oms_create_order(lines=[(self.product_2, 1)])
        cancelled = self._oms_create_order(lines=[(self.product_3, 1)])
        cancelled.picking_ids.action_oms_cancel()
        orders = shipped | open_order | cancelled
        action = self.env.ref("nextchapter_oms.stock_picking_action_shipments")
        self.assertEqual(safe_eval(action.context)["search_default_not_shipped"], 1)
        picking_model = self.env["stock.picking"]
        arch = etree.fromstring(picking_model.get_view(action.search_view_id.id, "search")["arch"])
        base = [*safe_eval(action.domain), ("sale_id", "in", orders.ids)]
        for name, order in (
            ("not_shipped", open_order),
            ("shipped", shipped),
            ("cancelled", cancelled),
        ):
            domain = safe_eval(arch.xpath(f"//filter[@name='{name}']")[0].get("domain"))
            self.assertEqual(picking_model.search([*base, *domain]), order.picking_ids, name)
        fields = {node.get("name") for node in arch.xpath("//field")}
        self.assertTrue({"name", "sale_id"} <= fields, "searchable by shipment and order")
        self.assertEqual(
            picking_model.search([*base, ("sale_id", "ilike", shipped.name)]), shipped.picking_ids
        )
        self.assertEqual(
            picking_model.search([*base, ("name", "=", open_order.picking_ids.name)]),
            open_order.picking_ids,
        )
        self.assertEqual(shipped.oms_shipment_ids, shipped.picking_ids, "Shipments tab")

    # ------------------------------------------------------------------
    # access
    # ------------------------------------------------------------------

    def test_access_oms_user_vs_other_user(self):
        oms_user = self._oms_new_user("oms_shipper", "nextchapter_oms.group_oms_user")
        other_user = self._oms_new_user("plain_employee", "base.group_user")
        order = self._oms_create_order()
        picking = order.picking_ids
        with self.assertRaises(AccessError):
            picking.with_user(other_user).action_oms_ship()
        self.assertEqual(picking.state, "assigned")
        picking.with_user(oms_user).action_oms_pre_announce()
        picking.with_user(oms_user).action_oms_ship()
        self.assertEqual(picking.state, "done")
