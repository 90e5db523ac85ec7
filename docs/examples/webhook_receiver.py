"""A webhook receiver for Headcount's Standard Webhooks deliveries (docs/integrate.md).

    pip install standardwebhooks
    HEADCOUNT_WEBHOOK_SECRET=whsec_... python webhook_receiver.py 8000

Verifies every delivery with the endpoint's signing secret, answers 401 to anything unsigned
or stale, skips an event it has already handled (deliveries are at least once: de-duplicate by
`webhook-id`) and answers 2xx quickly: Headcount waits at most 10 s, and a company's later
events wait until this one is acknowledged.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["HEADCOUNT_WEBHOOK_SECRET"])
handled: set[str] = set()  # use your database: the ids of events you have handled


def handle(event: dict) -> None:
    # Your code: create, update or disable the user in your app. Here: one line per event.
    data = event["data"]
    print(json.dumps([data["company"], data["seq"], event["type"], data["userName"]]), flush=True)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError:
            self.send_response(401)
            self.end_headers()
            return
        if self.headers["webhook-id"] not in handled:
            handle(event)
            handled.add(self.headers["webhook-id"])
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
