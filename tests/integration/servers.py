"""Real local servers standing in for PagerDuty, Slack and Jira; they check the documented shapes
(../shared/reference/interfaces.md) and answer like the real services, or with scripted faults."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PD_SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Received:
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)  # -N: process, then answer N
    issues: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["kind"] == kind]


def check_pagerduty(body: Any) -> list[str]:
    problems = []
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    if not isinstance(body.get("routing_key"), str) or not body["routing_key"]:
        problems.append("routing_key missing")
    if body.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        problems.append(f"bad event_action {body.get('event_action')!r}")
    key = body.get("dedup_key")
    if not isinstance(key, str) or not 0 < len(key) <= 255:
        problems.append("dedup_key missing or longer than 255")
    if body.get("event_action") == "trigger":
        payload = body.get("payload") or {}
        if not isinstance(payload.get("summary"), str) or not 0 < len(payload["summary"]) <= 1024:
            problems.append("payload.summary missing or longer than 1024")
        if payload.get("source") != "payoutwatch":
            problems.append("payload.source is not payoutwatch")
        if payload.get("severity") not in PD_SEVERITIES:
            problems.append(f"payload.severity {payload.get('severity')!r}")
    if len(json.dumps(body)) > 512 * 1024:
        problems.append("larger than 512 KB")
    return problems


def check_slack(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
        return ["text missing"]
    blocks = body.get("blocks")
    if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
        return ["blocks must be a list of objects with a type"]
    return []


def check_jira_issue(body: Any, version: int) -> list[str]:
    fields = (body or {}).get("fields") or {}
    problems = []
    if not (fields.get("project") or {}).get("key"):
        problems.append("fields.project.key missing")
    if not (fields.get("issuetype") or {}).get("name"):
        problems.append("fields.issuetype.name missing")
    if not isinstance(fields.get("summary"), str) or not fields["summary"]:
        problems.append("fields.summary missing")
    description = fields.get("description")
    if version == 2 and not isinstance(description, str):
        problems.append("v2 description must be a string")
    if version == 3 and not (isinstance(description, dict) and description.get("type") == "doc"):
        problems.append("v3 description must be ADF")
    labels = fields.get("labels")
    if not isinstance(labels, list) or "payoutwatch" not in labels or any(" " in lab for lab in labels):
        problems.append("labels must include payoutwatch and have no spaces")
    return problems


class ChannelServer:
    """One HTTP server: /pagerduty/..., /slack/<name>, /jira/rest/api/{2,3}/..."""

    def __init__(self) -> None:
        self.pd, self.slack, self.jira = Received(), Received(), Received()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ChannelServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def reply(self, code: int, body: Any, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self) -> Any:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                return json.loads(raw or b"null")

            def jira_authorised(self) -> bool:
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    return ":" in base64.b64decode(auth[6:]).decode()
                return auth.startswith("Bearer ")

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path.startswith("/jira/"):
                    if not self.jira_authorised():
                        return self.reply(401, {"errorMessages": ["unauthorised"]})
                    version = 3 if "/api/3/" in url.path else 2
                    expected = "/search/jql" if version == 3 else "/search"
                    if not url.path.endswith(expected):
                        server.jira.problems.append(f"search on {url.path}")
                        return self.reply(410 if version == 3 else 404, {"errorMessages": ["gone"]})
                    jql = parse_qs(url.query).get("jql", [""])[0]
                    hits = [i for i in server.jira.issues if f'labels = "{i["episode"]}"' in jql]
                    server.jira.requests.append({"kind": "search", "jql": jql})
                    answer: dict[str, Any] = {"issues": [{"id": i["id"], "key": i["key"]} for i in hits]}
                    if version == 2:
                        answer["total"] = len(hits)
                    return self.reply(200, answer)
                self.reply(404, {})

            def do_POST(self) -> None:
                path = urlparse(self.path).path
                body = self.body()
                target = (
                    server.pd
                    if path.startswith("/pagerduty")
                    else (server.slack if path.startswith("/slack") else server.jira)
                )
                with target.lock:
                    fault = target.faults.pop(0) if target.faults else None
                if fault is not None and fault > 0:
                    return self.reply(fault, {"error": "scripted"})
                status = -fault if fault else None
                if target is server.pd:
                    problems = check_pagerduty(body)
                    target.problems += problems
                    if problems:
                        return self.reply(400, {"status": "invalid event", "errors": problems})
                    target.requests.append({"kind": body["event_action"], "body": body})
                    return self.reply(
                        status or 202,
                        {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]},
                    )
                if target is server.slack:
                    problems = check_slack(body)
                    target.problems += problems
                    if problems:
                        return self.reply(400, b"invalid_payload", "text/plain")
                    target.requests.append({"kind": "message", "channel": path.split("/")[-1], "body": body})
                    return self.reply(status or 200, b"ok", "text/plain")
                if not self.jira_authorised():
                    return self.reply(401, {"errorMessages": ["unauthorised"]})
                version = 3 if "/api/3/" in path else 2
                if path.endswith("/comment"):
                    key = path.split("/")[-2]
                    text_ok = isinstance(body.get("body"), str if version == 2 else dict)
                    if not text_ok or not any(i["key"] == key for i in target.issues):
                        target.problems.append(f"bad comment on {key}")
                        return self.reply(400, {"errorMessages": ["bad comment"]})
                    target.requests.append({"kind": "comment", "key": key, "body": body})
                    return self.reply(status or 201, {"id": "1"})
                problems = check_jira_issue(body, version)
                target.problems += problems
                if problems:
                    return self.reply(400, {"errors": problems})
                n = len(target.issues) + 1
                labels = body["fields"]["labels"]
                episode = next(lab for lab in labels if lab.startswith("pw-"))
                target.issues.append({"id": str(10000 + n), "key": f"PAY-{n}", "episode": episode})
                target.requests.append({"kind": "create", "key": f"PAY-{n}", "body": body})
                return self.reply(status or 201, {"id": str(10000 + n), "key": f"PAY-{n}"})

        return Handler
