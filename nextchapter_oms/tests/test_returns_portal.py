import re

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from .test_returns_process import ReturnsCommon


@tagged("post_install", "-at_install")
class TestReturnsPortal(HttpCase, ReturnsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for login, partner in (("returns_anna", cls.customer), ("returns_joost", cls.customer_2)):
            new_test_user(
                cls.env,
                login=login,
                groups="base.group_portal",
                partner_id=partner.id,
                name=partner.name,
                email=partner.email,
                company_id=cls.company.id,
                company_ids=[Command.set(cls.company.ids)],
            )

    def setUp(self):
        super().setUp()
        self.order = self._oms_shipped_order()
        self.line_tshirt = self._oms_sale_line(self.order, self.product_1)
        self.line_hoodie = self._oms_sale_line(self.order, self.product_2)
        self.return_url = f"/my/orders/{self.order.id}/return"

    def _csrf_token(self, url):
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        self.assertTrue(match, "the form carries a CSRF token")
        return match.group(1)

    def _notices(self):
        return self.env["oms.return.notice"].search([("order_id", "=", self.order.id)])

    def test_owner_announces_return(self):
        self.authenticate("returns_anna", "returns_anna")
        page = self.url_open(f"/my/orders/{self.order.id}")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Return items", page.text)
        self.assertIn(self.return_url, page.text)
        token = self._csrf_token(self.return_url)
        last_message = self._oms_last_message_id()
        response = self.url_open(
            self.return_url,
            data={
                "csrf_token": token,
                f"qty_{self.line_tshirt.id}": "1",
                f"reason_{self.line_tshirt.id}": str(self.reason_small.id),
                f"note_{self.line_tshirt.id}": "Size M please next time",
                f"qty_{self.line_hoodie.id}": "0",
                "note": "Sent back with PostNL",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("message=oms_return_ok", response.url)
        self.assertIn("We have received your return notice", response.text)
        notice = self._notices()
        self.assertEqual(len(notice), 1)
        self.assertEqual(notice.state, "announced")
        self.assertEqual(notice.source, "portal")
        self.assertEqual(notice.partner_id, self.customer)
        self.assertEqual(notice.note, "Sent back with PostNL")
        self.assertEqual(notice.line_ids.sale_line_id, self.line_tshirt)
        self.assertEqual(notice.line_ids.quantity, 1.0)
        self.assertEqual(notice.line_ids.reason_id, self.reason_small)
        self.assertEqual(notice.line_ids.note, "Size M please next time")
        # the confirmation e-mail
        message = notice.message_ids.filtered(lambda m: self.customer in m.partner_ids)
        self.assertEqual(len(message), 1)
        self.assertEqual(
            message.subject,
            f"NextChapter Shop - Return notice {notice.name} for your order {self.order.name}",
        )
        mails, _notifications = self._oms_customer_mails(last_message)
        self.assertEqual(len(mails), 1)
        self.assertIn(notice.name, mails.subject)
        # what is announced cannot be announced again
        form = self.url_open(self.return_url)
        self.assertIn(f'name="qty_{self.line_tshirt.id}" max="1.0"', form.text)
        self.assertIn(f'name="qty_{self.line_hoodie.id}" max="1.0"', form.text)

    def test_token_access(self):
        access_token = self.order._portal_ensure_token()
        url = f"{self.return_url}?access_token={access_token}"
        token = self._csrf_token(url)
        response = self.url_open(
            self.return_url,
            data={
                "csrf_token": token,
                "access_token": access_token,
                f"qty_{self.line_hoodie.id}": "1",
                f"reason_{self.line_hoodie.id}": str(self.reason_damaged.id),
            },
        )
        self.assertEqual(response.status_code, 200)
        notice = self._notices()
        self.assertEqual(notice.line_ids.product_id, self.product_2)
        self.assertEqual(notice.source, "portal")
        # a wrong token is refused
        response = self.url_open(f"{self.return_url}?access_token=not-the-token")
        self.assertEqual(response.status_code, 404)

    def test_other_customer_refused(self):
        self.authenticate("returns_joost", "returns_joost")
        response = self.url_open(self.return_url)
        self.assertIn(response.status_code, (403, 404))
        self.assertNotIn("Return items of order", response.text)
        # posting with a valid CSRF token of Joost's session changes nothing
        home = self.url_open("/my")
        token = re.search(r'csrf_token: "([^"]+)"', home.text) or re.search(
            r'name="csrf_token" value="([^"]+)"', home.text
        )
        data = {f"qty_{self.line_tshirt.id}": "1", f"reason_{self.line_tshirt.id}": "1"}
        if token:
            data["csrf_token"] = token.group(1)
        response = self.url_open(self.return_url, data=data)
        self.assertIn(response.status_code, (400, 403, 404))
        self.assertFalse(self._notices())
        # nor is the button shown on the order page of someone else
        page = self.url_open(f"/my/orders/{self.order.id}")
        self.assertNotIn(self.return_url, page.text)

    def test_too_many_items_refused(self):
        self.authenticate("returns_anna", "returns_anna")
        token = self._csrf_token(self.return_url)
        response = self.url_open(
            self.return_url,
            data={
                "csrf_token": token,
                f"qty_{self.line_tshirt.id}": "3",
                f"reason_{self.line_tshirt.id}": str(self.reason_small.id),
                f"qty_{self.line_hoodie.id}": "1",
                f"reason_{self.line_hoodie.id}": str(self.reason_small.id),
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("Your return notice was not sent", response.text)
        self.assertIn("You can return at most 2.0 of Organic T-shirt.", response.text)
        self.assertFalse(self._notices(), "nothing created")
        # a missing reason, negative or no quantities are refused as well
        for data, message in (
            ({f"qty_{self.line_tshirt.id}": "1"}, "Choose a reason for returning Organic T-shirt."),
            (
                {
                    f"qty_{self.line_tshirt.id}": "-1",
                    f"reason_{self.line_tshirt.id}": str(self.reason_small.id),
                },
                "cannot be negative",
            ),
            ({f"qty_{self.line_tshirt.id}": "0"}, "Choose at least one item to return."),
            ({f"qty_{self.line_tshirt.id}": "two"}, "Enter the quantities as numbers."),
        ):
            response = self.url_open(self.return_url, data={"csrf_token": token, **data})
            self.assertEqual(response.status_code, 200)
            self.assertIn(message, response.text)
        self.assertFalse(self._notices(), "nothing created")

    def test_csrf_required(self):
        self.authenticate("returns_anna", "returns_anna")
        response = self.url_open(
            self.return_url,
            data={
                f"qty_{self.line_tshirt.id}": "1",
                f"reason_{self.line_tshirt.id}": str(self.reason_small.id),
            },
        )
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self._notices())

    def test_no_button_before_shipping(self):
        order = self._oms_create_order()
        self.authenticate("returns_anna", "returns_anna")
        page = self.url_open(f"/my/orders/{order.id}")
        self.assertEqual(page.status_code, 200)
        self.assertNotIn(f"/my/orders/{order.id}/return", page.text)
        response = self.url_open(f"/my/orders/{order.id}/return")
        self.assertIn("There are no shipped items left to return", response.text)
