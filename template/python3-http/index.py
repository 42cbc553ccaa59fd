# faasmon's python3-http template: the contract of OpenFaaS' python3-http
# (function/handler.py defines handle(event, context) and returns a dict
# {"statusCode", "body", "headers"}, a string, or None), written for faasmon.
#
# On the local stack this process is the function: the provider starts it
# with port=8080 and the tracer attaches to it. It runs on the host's Debian
# python3 (the function user cannot read a per-user Python), so a function's
# requirements must be installed as Debian packages (python3-<name>): the
# builder checks them and refuses a function whose requirements are missing.
import os
import signal
import sys

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from function import handler

app = Flask(__name__)


class Event:
    def __init__(self):
        self.body = request.get_data()
        self.headers = request.headers
        self.method = request.method
        self.query = request.args
        self.path = request.path


class Context:
    def __init__(self):
        self.hostname = os.getenv("HOSTNAME", "localhost")


def _content_type(res):
    headers = res.get("headers") or {}
    if isinstance(headers, dict):
        for k, v in headers.items():
            if k.lower() == "content-type":
                return v
    return ""


def _body(res):
    if "body" not in res:
        return ""
    body = res["body"]
    if _content_type(res) == "application/octet-stream":
        return body
    if isinstance(body, (dict, list)):
        return jsonify(body)
    return str(body)


def _headers(res):
    headers = res.get("headers")
    if not headers:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return headers


def _response(res):
    if res is None:
        return ("", 200)
    if isinstance(res, dict):
        return (_body(res), res.get("statusCode", 200), _headers(res))
    return res


@app.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
@app.route("/<path:path>", methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
def call_handler(path):
    return _response(handler.handle(Event(), Context()))


def main():
    port = int(os.getenv("port") or os.getenv("http_port") or "5000")
    server = make_server("0.0.0.0", port, app, threaded=True)

    def stop(signum, frame):
        # shutdown() waits for serve_forever to return: call it off the
        # main thread's signal frame.
        import threading
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"python3-http function listening on port: {port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
