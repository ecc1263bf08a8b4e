import hashlib
import hmac
import json

from odoo.tests import Form, HttpCase, tagged

from .common import OmsCommon

TRACKING_SECRET = "tracking-secret-for-tests"


@tagged("post_install", "-at_install")
class TestIntegrationsTracking(OmsCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.oms_tracking_secret = TRACKING_SECRET
        # the shared flow helper only needs class attributes (env, customer, products)
        cls.order = cls._oms_create_order(cls)
        cls.picking = cls.order.picking_ids

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------

    def _post(self, message, secret=TRACKING_SECRET, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(message).encode()
        all_headers = {"Content-Type": "application/json"}
        if secret:
            all_headers["X-OMS-Signature"] = hmac.new(
                secret.encode(), body, hashlib.sha256
            ).hexdigest()
        all_headers.update(headers or {})
        return self.url_open("/oms/tracking", data=body, headers=all_headers)

    def _entry(self, picking=None, status="shipped", ref="3SNCH0001", **values):
        return {
            "shipment": (picking or self.picking).name,
            "tracking_ref": ref,
            "status": status,
            **values,
        }

    def _shipment_emails(self, picking):
        return picking.message_ids.filtered(
            lambda m: self.customer in m.partner_ids and "has been shipped" in (m.subject or "")
        )

    def _logs(self):
        # failed authentications are logged on the public user's company
        logs = self.env["oms.integration.log"].sudo()
        return logs.search([("direction", "=", "incoming")], order="id")

    # ------------------------------------------------------------------
    # tests
    # ------------------------------------------------------------------

    def test_signed_message_ships_and_emails(self):
        self.company.oms_tracking_email = True
        self.assertEqual(self.picking.oms_shipment_state, "not_shipped")
        response = self._post(
            {
                "shipments": [
                    self._entry(tracking_url="https://jouw.postnl.nl/track-and-trace/3SNCH0001")
                ]
            }
        )
        self.assertEqual(response.status_code, 200, response.text)
        result = response.json()["results"][0]
        self.assertEqual(result["result"], "applied")
        self.assertEqual(result["shipment"], self.picking.name)
        self.assertEqual(result["order"], self.order.name)

        self.assertEqual(self.picking.state, "done")
        self.assertEqual(self.picking.oms_shipment_state, "shipped")
        self.assertEqual(self.order.oms_state, "shipped")
        self.assertEqual(self.picking.carrier_tracking_ref, "3SNCH0001")
        self.assertEqual(
            self.picking.oms_tracking_link, "https://jouw.postnl.nl/track-and-trace/3SNCH0001"
        )
        self.assertEqual(self.picking.oms_tracking_source, "import")
        self.assertTrue(self.picking.oms_tracking_date)
        self.assertFalse(self.picking.oms_delivered_date)
        self.assertEqual(len(self._shipment_emails(self.picking)), 1, "customer e-mailed")

        log = self._logs()
        self.assertEqual(len(log), 1)
        self.assertEqual(log.status_code, 200)
        self.assertEqual(log.picking_id, self.picking)
        self.assertEqual(log.order_id, self.order)

    def test_ships_without_email_when_setting_off(self):
        self.company.oms_tracking_email = False
        response = self._post({"shipments": [self._entry()]})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.picking.state, "done")
        self.assertFalse(self._shipment_emails(self.picking))

    def test_replay_is_idempotent(self):
        self.company.oms_tracking_email = True
        message = {"shipments": [self._entry()]}
        self.assertEqual(self._post(message).status_code, 200)
        tracking_date = self.picking.oms_tracking_date
        messages = self.picking.message_ids
        moves_done = self.picking.move_ids.filtered(lambda m: m.state == "done")

        response = self._post(message)
        self.assertEqual(response.status_code, 200, "a replay answers 200")
        self.assertEqual(response.json()["results"][0]["result"], "unchanged")
        self.picking.invalidate_recordset()
        self.assertEqual(self.picking.oms_tracking_date, tracking_date)
        self.assertEqual(self.picking.message_ids, messages, "no second e-mail, no message")
        self.assertEqual(self.picking.move_ids.filtered(lambda m: m.state == "done"), moves_done)
        self.assertEqual(len(self.order.picking_ids), 1, "nothing shipped twice")

    def test_bad_signature_refused(self):
        response = self._post({"shipments": [self._entry()]}, secret="wrong-secret")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["error"], "Invalid signature.")
        response = self._post({"shipments": [self._entry()]}, secret=None)
        self.assertEqual(response.status_code, 401)
        self.assertIn("X-OMS-Signature", response.json()["error"])
        # a body changed after signing
        body = json.dumps({"shipments": [self._entry()]}).encode()
        signature = hmac.new(TRACKING_SECRET.encode(), body, hashlib.sha256).hexdigest()
        tampered = body.replace(b"3SNCH0001", b"3SNCH0002")
        response = self.url_open(
            "/oms/tracking", data=tampered, headers={"X-OMS-Signature": signature}
        )
        self.assertEqual(response.status_code, 401)

        self.assertEqual(self.picking.state, "assigned")
        self.assertFalse(self.picking.carrier_tracking_ref)
        self.assertFalse(self.picking.oms_tracking_source)
        self.assertEqual(self._logs().mapped("status_code"), [401, 401, 401])

    def test_company_without_secret_refuses_everything(self):
        self.company.oms_tracking_secret = False
        response = self._post({"shipments": [self._entry()]}, secret="")
        self.assertEqual(response.status_code, 401)
        response = self._post({"shipments": [self._entry()]}, secret="anything")
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self.picking.carrier_tracking_ref)

    def test_unknown_shipment_404(self):
        response = self._post({"shipments": [self._entry(ref="X1") | {"shipment": "NOPE/1"}]})
        self.assertEqual(response.status_code, 404)
        result = response.json()["results"][0]
        self.assertEqual(result["result"], "error")
        self.assertEqual(result["error"], "Unknown shipment NOPE/1.")
        response = self._post(
            {"shipments": [{"order": "S-NOPE", "tracking_ref": "X1", "status": "shipped"}]}
        )
        self.assertEqual(response.status_code, 404)
        self.assertEqual(self.picking.state, "assigned")

    def test_other_company_shipment_is_unknown(self):
        other_company = self.env["res.company"].create(
            {"name": "Other Shop", "oms_tracking_secret": "other-secret"}
        )
        response = self._post({"shipments": [self._entry()]}, secret="other-secret")
        self.assertEqual(response.status_code, 404, "signed for another company")
        self.assertEqual(self.picking.state, "assigned")
        self.assertEqual(self._logs().company_id, other_company)

    def test_malformed_json_400(self):
        response = self._post(None, raw=b'{"shipments": [')
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"], "The message is not valid JSON.")
        response = self._post({"shipment": self.picking.name})
        self.assertEqual(response.status_code, 400)
        self.assertIn('"shipments"', response.json()["error"])
        response = self._post({"shipments": [self._entry(status="lost")]})
        self.assertEqual(response.status_code, 400)
        self.assertIn("Unknown status", response.json()["results"][0]["error"])
        response = self._post({"shipments": [self._entry(tracking_url="javascript:alert(1)")]})
        self.assertEqual(response.status_code, 400)
        self.assertIn("http(s) address", response.json()["results"][0]["error"])
        self.assertEqual(self.picking.state, "assigned")
        self.assertFalse(self.picking.carrier_tracking_ref)

    def test_get_not_allowed(self):
        response = self.url_open("/oms/tracking")
        self.assertEqual(response.status_code, 405)

    def test_batch_with_one_bad_entry(self):
        order_2 = self._oms_create_order(lines=[(self.product_3, 1)])
        picking_2 = order_2.picking_ids
        response = self._post(
            {
                "shipments": [
                    self._entry(ref="3SNCH0001"),
                    {"shipment": "NOPE/1", "tracking_ref": "3SNCH0002", "status": "shipped"},
                    {"order": order_2.name, "tracking_ref": "3SNCH0003", "status": "shipped"},
                ]
            }
        )
        self.assertEqual(response.status_code, 207, response.text)
        results = response.json()["results"]
        self.assertEqual([r["result"] for r in results], ["applied", "error", "applied"])
        self.assertEqual([r["code"] for r in results], [200, 404, 200])
        self.assertEqual(results[1]["error"], "Unknown shipment NOPE/1.")
        self.assertEqual(results[2]["shipment"], picking_2.name)
        self.assertEqual(self.picking.state, "done")
        self.assertEqual(picking_2.state, "done")
        self.assertEqual(picking_2.carrier_tracking_ref, "3SNCH0003")
        self.assertEqual(self._logs().mapped("status_code"), [200, 404, 200])

    def test_entry_refused_by_fulfilment_writes_nothing(self):
        self.picking.action_oms_cancel()
        response = self._post({"shipments": [self._entry()]})
        self.assertEqual(response.status_code, 409)
        self.assertIn("is cancelled", response.json()["results"][0]["error"])
        self.assertFalse(self.picking.carrier_tracking_ref)
        self.assertFalse(self.picking.oms_tracking_source)

    def test_pre_announced_then_delivered(self):
        response = self._post({"shipments": [self._entry(status="pre_announced")]})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.picking.state, "assigned", "pre-announced, not shipped")
        self.assertTrue(self.picking.oms_pre_announced_date)
        self.assertEqual(self.picking.carrier_tracking_ref, "3SNCH0001")

        response = self._post(
            {
                "shipments": [
                    {
                        "order": self.order.name,
                        "tracking_ref": "3SNCH0001",
                        "status": "delivered",
                        "date": "2025-03-04T10:15:00+01:00",
                    }
                ]
            }
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.picking.state, "done", "delivered implies shipped")
        self.assertEqual(str(self.picking.oms_delivered_date), "2025-03-04 09:15:00")
        self.assertEqual(self.order.oms_state, "shipped")
        # a late "shipped" changes nothing
        response = self._post({"shipments": [self._entry()]})
        self.assertEqual(response.json()["results"][0]["result"], "unchanged")

    def test_api_key_of_oms_user(self):
        user = self._oms_new_user("oms_tracking_api", "nextchapter_oms.group_oms_user")
        key = (
            self.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate("oms_tracking", "carrier middleware", False)
        )
        response = self._post(
            {"shipments": [self._entry()]},
            secret=None,
            headers={"Authorization": f"Bearer {key}"},
        )
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.picking.state, "done")
        self.assertEqual(self.picking.oms_tracking_source, "import")
        self.assertEqual(self.picking.write_uid, user, "applied as the key's user")

        response = self._post(
            {"shipments": [self._entry()]},
            secret=None,
            headers={"Authorization": "Bearer not-a-key"},
        )
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response.json()["error"], "Invalid API key.")

    def test_api_key_of_user_outside_group_refused(self):
        user = self._oms_new_user("sales_only_api", "sales_team.group_sale_salesman")
        key = (
            self.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate(None, "not allowed", False)
        )
        response = self._post(
            {"shipments": [self._entry()]},
            secret=None,
            headers={"Authorization": f"Bearer {key}"},
        )
        self.assertEqual(response.status_code, 403)
        self.assertIn("may not import", response.json()["error"])
        self.assertEqual(self.picking.state, "assigned")
        self.assertFalse(self.picking.carrier_tracking_ref)

    def test_manual_tracking_source(self):
        with Form(self.picking) as form:
            form.carrier_tracking_ref = "MANUAL-1"
        self.assertEqual(self.picking.oms_tracking_source, "manual")
        self.assertTrue(self.picking.oms_tracking_date)
        # the import takes over
        response = self._post({"shipments": [self._entry(ref="MANUAL-2")]})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.picking.oms_tracking_source, "import")
        self.assertEqual(self.picking.carrier_tracking_ref, "MANUAL-2")
