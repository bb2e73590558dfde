#!/usr/bin/env python3
"""Calls the elig HTTP API the way OpenSPP does: validate a rule, evaluate a
small batch (JSON), and stream a large batch (NDJSON) while reading the
decisions as they arrive. Python 3 standard library only.

Run it against `elig serve`:

    python3 examples/openspp_client.py --url http://127.0.0.1:8080 --api-key "$ELIG_API_KEY"
    python3 examples/openspp_client.py --count 1000000      # a million-person stream

How OpenSPP (Odoo) would call it, e.g. from a programme's eligibility manager
(copy `EligClient` into the module, or vendor this file):

    from odoo import models
    from .openspp_client import EligClient

    class EligibilityManager(models.Model):
        _inherit = "spp.program.membership.manager.default"

        def _elig_client(self):
            params = self.env["ir.config_parameter"].sudo()
            return EligClient(params.get_param("elig.url"), params.get_param("elig.api_key"))

        def _prepare_eligible_candidates(self):
            client = self._elig_client()
            rule = self.program_id.elig_rule          # e.g. "poverty_score >= 0.7 and dci.ibr.program_count == 0"
            report = client.validate({"programme": rule})
            if not report["valid"]:
                raise UserError(report["rules"][0]["diagnostics"][0]["snippet"])

            def rows():                               # a generator: registrants are never all in memory
                for partner in self.env["res.partner"].search([("is_registrant", "=", True)]):
                    yield {
                        "id": str(partner.id),
                        "identifiers": [{"type": r.id_type.name, "value": r.value} for r in partner.reg_ids],
                        "birthdate": partner.birthdate and partner.birthdate.isoformat(),
                        "poverty_score": partner.poverty_score,
                        "members": [{"id": str(m.individual.id), "birthdate": ...} for m in partner.group_membership_ids],
                    }

            eligible = []
            for result in client.evaluate_stream({"programme": rule}, rows()):
                if "error" in result:                 # that registrant's data could not be read
                    continue
                if result["outcomes"]["programme"]["outcome"] == "eligible":
                    eligible.append(int(result["id"]))
                # "undetermined": a registry was down or a value is missing; see result["outcomes"][...]["missing"]
            return self.env["res.partner"].browse(eligible)

Results come back in request order, one per registrant; `undetermined` is never
silently `ineligible`. Batches up to the server's `max_beneficiaries` (10,000)
can go as one JSON request (`evaluate`); larger ones stream (`evaluate_stream`).
"""

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class EligError(Exception):
    """An error answered by the API: `code` is stable (`invalid_rule`, `overloaded`, ...)."""

    def __init__(self, status, body):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        self.status = status
        self.code = error.get("code", "unknown")
        self.details = error.get("details")
        super().__init__("HTTP %s %s: %s" % (status, self.code, error.get("message", body)))


class EligClient:
    """A small client of the elig API (https://<host>/openapi.json describes it)."""

    def __init__(self, url, api_key, timeout=300):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def _headers(self, content_type="application/json"):
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = "Bearer " + self.api_key
        return headers

    def _post_json(self, path, body):
        data = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, headers=self._headers(), method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            try:
                body = json.load(error)
            except ValueError:
                body = {}
            raise EligError(error.code, body) from None

    def validate(self, rules):
        """`{name: expression}` → `{valid, rules: [{name, valid, diagnostics, metrics, ...}]}`."""
        return self._post_json("/v1/rules/validate", {"rules": rules})

    def evaluate(self, rules, beneficiaries, as_of=None, explain=False):
        """One JSON request: `{results: [...], summary: {...}}`, results in request order."""
        body = {"rules": rules, "beneficiaries": list(beneficiaries), "explain": explain}
        if as_of:
            body["as_of"] = as_of
        return self._post_json("/v1/evaluate", body)

    def evaluate_stream(self, rules, beneficiaries, as_of=None, explain=False, lines_per_write=1000):
        """Streams `beneficiaries` (any iterable, e.g. a generator) as NDJSON and yields each result
        as it arrives, in order. The summary is in `self.last_summary` afterwards.

        The body is sent by a thread while this one reads the response: the server answers while
        it is still reading, so neither side ever holds the whole batch."""
        self.last_summary = None
        parts = urllib.parse.urlsplit(self.url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=self.timeout)
        options = {"rules": rules, "explain": explain}
        if as_of:
            options["as_of"] = as_of
        connection.putrequest("POST", parts.path.rstrip("/") + "/v1/evaluate")
        for name, value in self._headers("application/x-ndjson").items():
            connection.putheader(name, value)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()

        failure = []

        def send():
            def chunk(data):
                connection.send(b"%x\r\n%s\r\n" % (len(data), data))

            try:
                chunk((json.dumps(options) + "\n").encode("utf-8"))
                lines = []
                for beneficiary in beneficiaries:
                    lines.append(json.dumps(beneficiary, separators=(",", ":")))
                    if len(lines) >= lines_per_write:
                        chunk(("\n".join(lines) + "\n").encode("utf-8"))
                        lines = []
                if lines:
                    chunk(("\n".join(lines) + "\n").encode("utf-8"))
                connection.send(b"0\r\n\r\n")
            except OSError as error:  # the server answered early (e.g. an invalid rule) and closed
                failure.append(error)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            response = connection.getresponse()
            if response.status != 200:
                try:
                    body = json.loads(response.read() or b"{}")
                except ValueError:
                    body = {}
                raise EligError(response.status, body)
            while True:
                line = response.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                item = json.loads(line)
                if "summary" in item:
                    self.last_summary = item["summary"]
                elif "error" in item and "line" not in item:
                    raise EligError(200, item)  # the stream was cut short (e.g. the body stopped arriving)
                else:
                    yield item
        finally:
            sender.join(timeout=5)
            connection.close()


def generated(count, seed=7):
    """`count` synthetic households, generated lazily (UINs in the fixture's 8nnnnkkkk form)."""
    rng = random.Random(seed)
    for n in range(count):
        household = (n % 35) + 1
        members = [
            {
                "id": "G-%07d-M%d" % (n, k),
                "identifiers": [{"type": "UIN", "value": "8%04d%04d" % (household, k)}],
                "birthdate": "%04d-%02d-%02d" % (rng.randint(1950, 2020), rng.randint(1, 12), rng.randint(1, 28)),
            }
            for k in range(1, rng.randint(0, 3) + 1)
        ]
        yield {
            "id": "G-%07d" % n,
            "identifiers": [{"type": "UIN", "value": "8%04d0000" % household}],
            "birthdate": "%04d-%02d-%02d" % (rng.randint(1930, 2005), rng.randint(1, 12), rng.randint(1, 28)),
            "poverty_score": round(rng.random(), 2),
            "members": members,
        }


SMALL_BATCH = [
    {"id": "HH-0001", "identifiers": [{"type": "UIN", "value": "800010000"}], "birthdate": "1950-03-02",
     "poverty_score": 0.82, "members": []},
    {"id": "HH-0004", "identifiers": [{"type": "UIN", "value": "800040000"}], "birthdate": "1981-06-15",
     "poverty_score": 0.85, "members": []},
    {"id": "NO-ID", "birthdate": "1940-01-01", "poverty_score": 0.9},
    {"poverty_score": 0.9},  # no id: an item error, the others are decided
]

RULES = {
    "poor_not_enrolled": "poverty_score >= 0.7 and dci.ibr.program_count == 0",
    "elderly_alive": "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the elig server (default %(default)s)")
    parser.add_argument("--api-key", default=os.environ.get("ELIG_API_KEY", ""),
                        help="a key from the server's server.api_keys (default: $ELIG_API_KEY)")
    parser.add_argument("--count", type=int, default=100_000, help="beneficiaries to stream (default %(default)s)")
    parser.add_argument("--as-of", default="2026-01-01", help="evaluation date (default %(default)s)")
    args = parser.parse_args()
    client = EligClient(args.url, args.api_key)

    print("1. validate")
    report = client.validate({"typo": "dci.crvs.is_alve == true", **RULES})
    for rule in report["rules"]:
        print("   %-18s valid=%-5s needs=%s" % (rule["name"], rule["valid"], rule["registries"]["registrant"]))
        for diagnostic in rule["diagnostics"]:
            print("     %s[%s] %s\n     %s" % (diagnostic["severity"], diagnostic["code"], diagnostic["message"],
                                              diagnostic["snippet"].replace("\n", "\n     ")))
    try:
        client.evaluate({"typo": "dci.crvs.is_alve == true"}, SMALL_BATCH)
    except EligError as error:
        print("   evaluating an invalid rule: %s (%s)" % (error.status, error.code))

    print("2. evaluate a small batch (JSON)")
    answer = client.evaluate(RULES, SMALL_BATCH, as_of=args.as_of)
    for result in answer["results"]:
        if "error" in result:
            print("   %-10s %s" % ("(invalid)", result["error"]["message"]))
            continue
        outcomes = ", ".join("%s=%s" % (name, d["outcome"]) for name, d in result["outcomes"].items())
        missing = [m["name"] + " (" + m["cause"] + ")" for d in result["outcomes"].values() for m in d.get("missing", [])]
        print("   %-10s %s%s" % (result["id"], outcomes, ("; missing " + ", ".join(missing)) if missing else ""))
    print("   summary: %s" % json.dumps(answer["summary"]["rules"]))

    print("3. stream %d generated beneficiaries (NDJSON)" % args.count)
    started = time.monotonic()
    counts = {}
    received = 0
    for result in client.evaluate_stream({"poor_not_enrolled": RULES["poor_not_enrolled"]}, generated(args.count),
                                         as_of=args.as_of):
        expected = "G-%07d" % received
        if result.get("id") != expected:
            sys.exit("out of order: expected %s, got %s" % (expected, result))
        outcome = result["outcomes"]["poor_not_enrolled"]["outcome"]
        counts[outcome] = counts.get(outcome, 0) + 1
        received += 1
        if received % 100_000 == 0:
            print("   %d results, %.0f/s" % (received, received / (time.monotonic() - started)), flush=True)
    elapsed = time.monotonic() - started
    summary = client.last_summary or {}
    print("   %d results in %.1f s (%.0f/s): %s" % (received, elapsed, received / max(elapsed, 1e-9), counts))
    print("   server: items=%s chunks=%s round_trips=%s cache_hits=%s" % (
        summary.get("items"), summary.get("chunks"), summary.get("round_trips"), summary.get("cache_hits")))
    if received != args.count or summary.get("items") != args.count:
        sys.exit("expected %d results" % args.count)


if __name__ == "__main__":
    main()
