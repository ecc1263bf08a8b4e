import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch
from urllib.parse import urlsplit

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, tagged
from odoo.tests.common import _super_send

from .common import OmsCommon

EXPORT_SECRET = "export-secret-for-tests"


class ExportReceiver(ThreadingHTTPServer):
    """A shop ERP on 127.0.0.1: verifies the signature, remembers the idempotency
    keys it processed and answers as scripted by the test."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ExportReceiverHandler)
        self.secret = EXPORT_SECRET
        self.requests = []
        self.processed = {}
        self.duplicates = []
        self.fail_orders = set()
        self.slow_orders = set()
        self.release = threading.Event()
        self.slow_done = threading.Event()
        self.lock = threading.Lock()

    def handle_error(self, request, client_address):
        # the client gave up on a slow answer: writing it fails, as expected
        pass


class ExportReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        server = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        expected = hmac.new(server.secret.encode(), body, hashlib.sha256).hexdigest()
        signature_ok = hmac.compare_digest(
            expected.encode(), self.headers.get("X-OMS-Signature", "").encode()
        )
        key = self.headers.get("X-OMS-Idempotency-Key")
        payload = json.loads(body) if signature_ok else None
        order = payload and payload["order"]
        with server.lock:
            server.requests.append(
                {
                    "key": key,
                    "signature_ok": signature_ok,
                    "payload": payload,
                    "content_type": self.headers.get("Content-Type"),
                }
            )
        slow = order in server.slow_orders
        if slow:
            server.slow_orders.discard(order)
            server.release.wait(10)
        if not signature_ok:
            status = 401
        elif order in server.fail_orders:
            server.fail_orders.discard(order)
            status = 500
        else:
            status = 200
            with server.lock:
                if key in server.processed:
                    server.duplicates.append(key)
                else:
                    server.processed[key] = payload
        if slow:
            server.slow_done.set()
        answer = json.dumps({"status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


@tagged("post_install", "-at_install")
class TestIntegrationsExport(OmsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = ExportReceiver()
        cls.receiver_port = cls.receiver.server_address[1]
        thread = threading.Thread(target=cls.receiver.serve_forever, daemon=True)
        thread.start()

        def stop_receiver():
            cls.receiver.release.set()
            cls.receiver.shutdown()
            cls.receiver.server_close()

        cls.addClassCleanup(stop_receiver)
        cls.export_url = f"http://127.0.0.1:{cls.receiver_port}/orders"
        cls.cron = cls.env.ref("nextchapter_oms.ir_cron_oms_export")

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo raises short timeouts to 10 s in tests; our receiver must see the
        # configured one, so that the timeout test stays short.
        url = urlsplit(r.url)
        if url.hostname == "127.0.0.1" and url.port == cls.receiver_port:
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    def setUp(self):
        super().setUp()
        self.receiver.requests.clear()
        self.receiver.processed.clear()
        self.receiver.duplicates.clear()
        self.receiver.fail_orders.clear()
        self.receiver.slow_orders.clear()
        self.receiver.release.clear()
        self.receiver.slow_done.clear()

    def _configure_export(self, **values):
        self.company.write(
            {
                "oms_export_enabled": True,
                "oms_export_url": self.export_url,
                "oms_export_secret": EXPORT_SECRET,
                "oms_export_timeout": 1,
                **values,
            }
        )

    def _requests_for(self, order):
        return [
            req
            for req in self.receiver.requests
            if req["key"] and req["key"].startswith(f"{order.name}-")
        ]

    def _logs_for(self, order):
        return self.env["oms.integration.log"].search([("order_id", "=", order.id)], order="id")

    def test_settings_form_configures_export(self):
        settings = Form(self.env["res.config.settings"])
        settings.oms_export_enabled = True
        settings.oms_export_url = "https://erp.example.com/orders"
        settings.oms_export_secret = "s3cret"
        settings.oms_export_timeout = 5
        settings.oms_tracking_secret = "tracking-s3cret"
        settings.oms_tracking_email = True
        settings.save().execute()
        self.assertTrue(self.company.oms_export_enabled)
        self.assertEqual(self.company.oms_export_url, "https://erp.example.com/orders")
        self.assertEqual(self.company.oms_export_secret, "s3cret")
        self.assertEqual(self.company.oms_export_timeout, 5)
        self.assertEqual(self.company.oms_tracking_secret, "tracking-s3cret")
        self.assertTrue(self.company.oms_tracking_email)

    def test_export_url_must_be_https_except_localhost(self):
        with self.assertRaises(ValidationError) as error:
            self.company.oms_export_url = "http://erp.example.com/orders"
        self.assertIn("must use https", str(error.exception))
        with self.assertRaises(ValidationError):
            self.company.oms_export_url = "ftp://erp.example.com/orders"
        self.company.oms_export_url = "http://localhost:8080/orders"
        self.company.oms_export_url = "https://erp.example.com/orders"
        self.assertEqual(self.company.oms_export_url, "https://erp.example.com/orders")
        with self.assertRaises(ValidationError) as error:
            self.company.oms_export_timeout = 0
        self.assertIn("between 1 and 120 seconds", str(error.exception))

    def test_secrets_are_for_administrators_only(self):
        self._configure_export(oms_tracking_secret="tracking")
        manager = self._oms_new_user("oms_manager_secret", "nextchapter_oms.group_oms_manager")
        company = self.company.with_user(manager)
        self.assertTrue(company.oms_export_enabled)
        with self.assertRaises(AccessError):
            company.read(["oms_export_secret"])
        with self.assertRaises(AccessError):
            company.read(["oms_tracking_secret"])

    def test_success_signed_with_stable_idempotency_key(self):
        self._configure_export()
        order = self._oms_create_order(client_order_ref="SHOP-1001")
        self.assertEqual(order.oms_export_state, "pending")
        self.env["sale.order"]._cron_export_orders()

        self.assertEqual(order.oms_export_state, "done")
        self.assertTrue(order.oms_export_date)
        self.assertFalse(order.oms_export_error)
        self.assertEqual(order.oms_export_attempts, 1)
        requests_sent = self._requests_for(order)
        self.assertEqual(len(requests_sent), 1)
        sent = requests_sent[0]
        self.assertTrue(sent["signature_ok"], "the receiver verified the HMAC signature")
        self.assertEqual(sent["key"], f"{order.name}-1")
        self.assertEqual(sent["content_type"], "application/json")
        payload = sent["payload"]
        self.assertEqual(payload["order"], order.name)
        self.assertEqual(payload["reference"], "SHOP-1001")
        self.assertEqual(payload["customer"]["email"], "anna@example.com")
        self.assertEqual(payload["delivery_address"]["city"], "Amsterdam")
        self.assertEqual(payload["currency"], order.currency_id.name)
        self.assertEqual(payload["status"], "awaiting_payment")
        self.assertEqual(payload["payment_state"], "not_paid")
        self.assertEqual(payload["totals"]["total"], 250.0)
        self.assertEqual(
            sorted((line["product"], line["quantity"]) for line in payload["lines"]),
            [("Hoodie", 1.0), ("Organic T-shirt", 2.0)],
        )
        self.assertTrue(payload["date_order"].endswith("Z"))
        self.assertEqual(self.receiver.processed, {f"{order.name}-1": payload})

        log = self._logs_for(order)
        self.assertEqual(len(log), 1)
        self.assertEqual(log.direction, "outgoing")
        self.assertEqual(log.status_code, 200)
        self.assertTrue(log.success)
        self.assertEqual(log.reference, f"{order.name}-1")
        self.assertEqual(log.endpoint, self.export_url)

        # a processed order is not sent again by later runs
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(len(self._requests_for(order)), 1)

    def test_server_error_then_retry_after_backoff(self):
        self._configure_export()
        order = self._oms_create_order()
        self.receiver.fail_orders.add(order.name)
        self.env["sale.order"]._cron_export_orders()

        self.assertEqual(order.oms_export_state, "failed")
        self.assertIn("HTTP 500", order.oms_export_error)
        self.assertEqual(order.oms_export_attempts, 1)
        self.assertGreater(order.oms_export_next_try, fields.Datetime.now())
        self.assertFalse(self.receiver.processed)
        self.assertFalse(self._logs_for(order).success)

        # not due yet: the back-off is respected
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(len(self._requests_for(order)), 1)

        order.oms_export_next_try = fields.Datetime.now() - timedelta(minutes=1)
        self.cron.method_direct_trigger()
        self.assertEqual(order.oms_export_state, "done")
        self.assertFalse(order.oms_export_error)
        self.assertEqual(order.oms_export_attempts, 2)
        keys = [req["key"] for req in self._requests_for(order)]
        self.assertEqual(keys, [f"{order.name}-1", f"{order.name}-1"], "same key on retry")
        self.assertEqual(list(self.receiver.processed), [f"{order.name}-1"])
        self.assertEqual(self._logs_for(order).mapped("status_code"), [500, 200])

    def test_backoff_grows_with_attempts(self):
        self._configure_export()
        order = self._oms_create_order()
        delays = []
        for _attempt in range(3):
            self.receiver.fail_orders.add(order.name)
            order.oms_export_next_try = fields.Datetime.now() - timedelta(seconds=1)
            before = fields.Datetime.now()
            self.env["sale.order"]._cron_export_orders()
            delays.append(round((order.oms_export_next_try - before).total_seconds() / 60))
        self.assertEqual(order.oms_export_attempts, 3)
        self.assertEqual(delays, [5, 15, 60])

    def test_timeout_then_retry_is_deduplicated_by_receiver(self):
        self._configure_export(oms_export_timeout=1)
        order = self._oms_create_order()
        self.receiver.slow_orders.add(order.name)
        self.env["sale.order"]._cron_export_orders()

        self.assertEqual(order.oms_export_state, "failed")
        self.assertIn("did not answer within 1 seconds", order.oms_export_error)
        log = self._logs_for(order)
        self.assertEqual(log.status_code, 0)
        self.assertFalse(log.success)

        # the receiver processes the slow message after the client gave up
        self.receiver.release.set()
        self.assertTrue(self.receiver.slow_done.wait(10))
        order.oms_export_next_try = fields.Datetime.now() - timedelta(minutes=1)
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(order.oms_export_state, "done")
        self.assertEqual([req["key"] for req in self._requests_for(order)], [f"{order.name}-1"] * 2)
        self.assertEqual(list(self.receiver.processed), [f"{order.name}-1"])
        self.assertEqual(self.receiver.duplicates, [f"{order.name}-1"])

    def test_wrong_secret_fails_signature_check(self):
        self._configure_export(oms_export_secret="not-the-receivers-secret")
        order = self._oms_create_order()
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(order.oms_export_state, "failed")
        self.assertIn("HTTP 401", order.oms_export_error)
        self.assertFalse(self._requests_for(order)[0]["signature_ok"])
        self.assertFalse(self.receiver.processed)

    def test_no_export_without_configuration(self):
        order = self._oms_create_order()
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(order.oms_export_state, "pending")

        self._configure_export(oms_export_enabled=False)
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(order.oms_export_state, "pending")

        self._configure_export(oms_export_secret=False)
        self.cron.method_direct_trigger()
        self.assertEqual(order.oms_export_state, "pending")
        self.assertFalse(self.receiver.requests)
        self.assertFalse(self._logs_for(order))

    def test_quotation_is_not_exported(self):
        self._configure_export()
        quotation = self._oms_create_order(confirm=False)
        self.env["sale.order"]._cron_export_orders()
        self.assertFalse(quotation.oms_export_state)
        self.assertFalse(self.receiver.requests)

    def test_one_bad_order_does_not_block_the_others(self):
        self._configure_export()
        bad = self._oms_create_order()
        good = self._oms_create_order(lines=[(self.product_3, 1)])
        self.receiver.fail_orders.add(bad.name)
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(bad.oms_export_state, "failed")
        self.assertEqual(good.oms_export_state, "done")
        self.assertEqual(list(self.receiver.processed), [f"{good.name}-1"])

    def test_orders_exported_in_chunks(self):
        self._configure_export()
        orders = self.env["sale.order"]
        for _index in range(3):
            orders |= self._oms_create_order(lines=[(self.product_3, 1)])
        order_class = type(self.env["sale.order"])
        with patch.object(order_class, "_oms_export_batch_size", 2):
            self.env["sale.order"]._cron_export_orders()
        self.assertEqual(set(orders.mapped("oms_export_state")), {"done"})
        self.assertEqual(set(self.receiver.processed), {f"{order.name}-1" for order in orders})

    def test_run_limit_triggers_next_run(self):
        self._configure_export()
        orders = self._oms_create_order(lines=[(self.product_3, 1)])
        orders |= self._oms_create_order(lines=[(self.product_3, 1)])
        order_class = type(self.env["sale.order"])
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)])
        with (
            patch.object(order_class, "_oms_export_batch_size", 1),
            patch.object(order_class, "_oms_export_run_limit", 1),
        ):
            self.env["sale.order"]._cron_export_orders()
        self.assertEqual(orders.mapped("oms_export_state"), ["done", "pending"])
        self.assertEqual(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)]),
            triggers + 1,
            "the cron is triggered again for the orders left",
        )

    def test_payload_queries_do_not_grow_with_the_chunk(self):
        orders = self.env["sale.order"]
        for _index in range(4):
            orders |= self._oms_create_order()

        def count_queries(order_ids):
            self.env.invalidate_all()
            chunk = self.env["sale.order"].browse(order_ids)
            before = self.cr.sql_log_count
            for order in chunk:
                order._oms_prepare_export_payload()
            return self.cr.sql_log_count - before

        count_queries(orders[:1].ids)  # warm up caches outside the records (currency …)
        single = count_queries(orders[:1].ids)
        self.assertEqual(count_queries(orders.ids), single)

    def test_export_again(self):
        self._configure_export()
        order = self._oms_create_order()
        with self.assertRaises(UserError) as error:
            order.action_oms_export_again()
        self.assertEqual(
            str(error.exception), f"Order {order.name} is already waiting to be exported."
        )
        quotation = self._oms_create_order(confirm=False)
        with self.assertRaises(UserError) as error:
            quotation.action_oms_export_again()
        self.assertIn("is not confirmed: there is nothing to export", str(error.exception))

        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(order.oms_export_state, "done")
        self.assertTrue(order.oms_can_export_again)
        user = self._oms_new_user("oms_user_export", "nextchapter_oms.group_oms_user")
        order.with_user(user).action_oms_export_again()
        self.assertEqual(order.oms_export_state, "pending")
        self.assertEqual(order.oms_export_revision, 2)
        self.assertFalse(order.oms_can_export_again)
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(order.oms_export_state, "done")
        self.assertEqual(
            [req["key"] for req in self._requests_for(order)],
            [f"{order.name}-1", f"{order.name}-2"],
            "a new revision gets a new idempotency key",
        )

    def test_export_again_after_failure_keeps_the_key(self):
        self._configure_export()
        order = self._oms_create_order()
        self.receiver.fail_orders.add(order.name)
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(order.oms_export_state, "failed")
        order.action_oms_export_again()
        self.assertEqual(order.oms_export_state, "pending")
        self.assertFalse(order.oms_export_next_try, "retried at the next run, no back-off")
        self.assertEqual(order.oms_export_revision, 1)
        self.env["sale.order"]._cron_export_orders()
        self.assertEqual(order.oms_export_state, "done")
        self.assertEqual([req["key"] for req in self._requests_for(order)], [f"{order.name}-1"] * 2)

    def test_general_tab_shows_export(self):
        self._configure_export()
        order = self._oms_create_order()
        self.receiver.fail_orders.add(order.name)
        self.env["sale.order"]._cron_export_orders()
        with Form(order) as form:
            self.assertEqual(form.oms_export_state, "failed")
            self.assertIn("HTTP 500", form.oms_export_error)
            self.assertTrue(form.oms_can_export_again)
        arch = self.env["sale.order"].get_view(self.env.ref("sale.view_order_form").id, "form")[
            "arch"
        ]
        self.assertIn('name="action_oms_export_again"', arch)

    def test_old_logs_cleaned_up_in_bounded_batches(self):
        log_model = self.env["oms.integration.log"]
        logs = log_model._oms_log(
            [
                {"direction": "outgoing", "endpoint": self.export_url, "status_code": 200}
                for _index in range(3)
            ]
        )
        old, older, recent = logs
        self.env.cr.execute(
            "UPDATE oms_integration_log SET create_date = now() - interval '31 days' "
            "WHERE id IN %s",
            [(old.id, older.id)],
        )
        log_model.invalidate_model()
        self.assertTrue(log_model._oms_cleanup(limit=1), "more old logs left")
        self.assertEqual(len(logs.exists()), 2)
        self.cron.method_direct_trigger()
        self.assertEqual(logs.exists(), recent)

    def test_logs_follow_company_rule(self):
        other_company = self.env["res.company"].create({"name": "Other Shop"})
        mine, other = self.env["oms.integration.log"]._oms_log(
            [
                {"direction": "incoming", "endpoint": "/oms/tracking", "status_code": 200},
                {
                    "direction": "incoming",
                    "endpoint": "/oms/tracking",
                    "status_code": 404,
                    "company_id": other_company.id,
                },
            ]
        )
        user = self._oms_new_user("oms_user_logs", "nextchapter_oms.group_oms_user")
        visible = self.env["oms.integration.log"].with_user(user).search([])
        self.assertIn(mine, visible)
        self.assertNotIn(other, visible)
        with self.assertRaises(AccessError):
            self.env["oms.integration.log"].with_user(user).create(
                {"direction": "incoming", "endpoint": "/x"}
            )
