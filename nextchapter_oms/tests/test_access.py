from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged

from .common import OmsCommon


@tagged("post_install", "-at_install")
class TestAccess(OmsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesman = cls._oms_new_user("salesman", "sales_team.group_sale_salesman")
        cls.oms_user = cls._oms_new_user("oms_user", "nextchapter_oms.group_oms_user")
        cls.oms_manager = cls._oms_new_user("oms_manager", "nextchapter_oms.group_oms_manager")

    def _visible_menus(self, user):
        return self.env["ir.ui.menu"].with_user(user)._visible_menu_ids()

    def test_menu_only_for_oms_users(self):
        root = self.env.ref("nextchapter_oms.nextchapter_oms_menu_root")
        orders = self.env.ref("nextchapter_oms.sale_order_menu_all")
        settings = self.env.ref("nextchapter_oms.res_config_settings_menu")
        self.assertNotIn(root.id, self._visible_menus(self.salesman))
        self.assertIn(root.id, self._visible_menus(self.oms_user))
        self.assertIn(orders.id, self._visible_menus(self.oms_user))
        self.assertNotIn(settings.id, self._visible_menus(self.oms_user))
        # Odoo only lets administrators save settings
        self.assertNotIn(settings.id, self._visible_menus(self.oms_manager))
        self.oms_manager.groups_id += self.env.ref("base.group_system")
        self.assertIn(settings.id, self._visible_menus(self.oms_manager))

    def test_groups(self):
        manager_group = self.env.ref("nextchapter_oms.group_oms_manager")
        self.assertIn(self.env.ref("nextchapter_oms.group_oms_user"), manager_group.implied_ids)
        self.assertTrue(self.oms_manager.has_group("nextchapter_oms.group_oms_user"))
        self.assertFalse(self.oms_user.has_group("nextchapter_oms.group_oms_manager"))
        self.assertTrue(
            self.env.ref("base.user_admin").has_group("nextchapter_oms.group_oms_manager")
        )
        self.assertEqual(
            manager_group.category_id,
            self.env.ref("nextchapter_oms.module_category_order_management"),
        )

    def test_memo_only_for_oms_users(self):
        order = self._oms_create_order(oms_memo="<p>Secret memo</p>")
        self.assertIn("Secret memo", order.with_user(self.oms_user).oms_memo)
        order.with_user(self.oms_user).oms_memo = "<p>Updated memo</p>"
        self.assertIn("Updated memo", order.oms_memo)
        with self.assertRaises(AccessError):
            order.with_user(self.salesman).read(["oms_memo"])
        arch = self.env["sale.order"].with_user(self.salesman).get_view(view_type="form")["arch"]
        self.assertNotIn('name="oms_memo"', arch)

    def test_oms_user_cancels_items(self):
        order = self._oms_create_order(lines=[(self.product_1, 3)])
        wizard = (
            self.env["oms.line.cancel"]
            .with_user(self.oms_user)
            .create(
                {
                    "order_id": order.id,
                    "line_ids": [(0, 0, {"sale_line_id": order.order_line.id, "quantity": 1})],
                }
            )
        )
        wizard.action_apply()
        self.assertEqual(order.order_line.product_uom_qty, 2)
        with self.assertRaises(AccessError):
            self.env["oms.line.cancel"].with_user(self.salesman).create({"order_id": order.id})


@tagged("post_install", "-at_install")
class TestPortalMemo(HttpCase, OmsCommon):
    def test_portal_never_shows_memo(self):
        portal_user = self._oms_new_user("portal_anna", "base.group_portal")
        portal_user.partner_id.email = "portal.anna@example.com"
        order = self._oms_create_order(
            partner=portal_user.partner_id,
            oms_memo="<p>TOPSECRET-MEMO difficult customer</p>",
            oms_customer_note="Leave at the door",
        )
        self.authenticate("portal_anna", "portal_anna")
        response = self.url_open(f"/my/orders/{order.id}")
        self.assertEqual(response.status_code, 200)
        self.assertIn(order.name, response.text)
        self.assertNotIn("TOPSECRET-MEMO", response.text)
        # another customer's order is not reachable
        other = self._oms_create_order(partner=self.customer_2)
        response = self.url_open(f"/my/orders/{other.id}", allow_redirects=False)
        self.assertNotEqual(response.status_code, 200)
        # through the order's access token, still no memo
        self.logout()
        response = self.url_open(
            f"/my/orders/{order.id}?access_token={order._portal_ensure_token()}"
        )
        self.assertEqual(response.status_code, 200)
        self.assertNotIn("TOPSECRET-MEMO", response.text)
