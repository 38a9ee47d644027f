#!/usr/bin/env python3
"""Sends the WAF corpus (crates/rampart-waf/corpus) through any HTTP front end and prints the
share of each class it refuses (403), as `cargo test -p rampart-waf --test corpus` does for
Rampart's engine: the same placements, the same benign requests. For comparing WAFs over HTTP,
e.g. Rampart's proxy and nginx with ModSecurity and the OWASP Core Rule Set:

    python3 scripts/waf-corpus.py http://127.0.0.1:8081
"""
import http.client
import pathlib
import sys
import urllib.parse

CORPUS = pathlib.Path(__file__).resolve().parent.parent / "crates" / "rampart-waf" / "corpus"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PLACEMENTS = [
    ("sqli", "query"), ("sqli", "form body"), ("xss", "query"), ("xss", "form body"),
    ("traversal", "query"), ("traversal", "path"), ("log4shell", "query"), ("log4shell", "header"),
    ("ssrf", "query"), ("ssrf", "form body"), ("command", "query"),
]


def encode(value):
    return urllib.parse.quote_plus(value, safe="-_.~")


def send(conn, method, target, headers, body=b""):
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        base = {"host": "shop.example.com", "user-agent": BROWSER, "accept": "text/html,application/json"}
        base.update(headers)
        if body or method in ("POST", "PUT", "PATCH"):
            base["content-length"] = str(len(body))
        for k, v in base.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        response = conn.getresponse()
        response.read()
        return response.status
    except (http.client.HTTPException, OSError, ValueError):
        conn.close()
        return 400


def unescape(field):
    out, chars = [], iter(field)
    for c in chars:
        if c != "\\":
            out.append(c)
            continue
        n = next(chars, "\\")
        out.append({"n": "\n", "t": "\t"}.get(n, n))
    return "".join(out)


def main(url):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
    total = blocked_total = 0
    print(f"{'class':<11} {'where':<11} {'requests':>8}  blocked")
    for cls, where in PLACEMENTS:
        payloads = [l for l in (CORPUS / "attacks" / f"{cls}.txt").read_text().split("\n") if l]
        blocked = 0
        for p in payloads:
            if where == "query":
                status = send(conn, "GET", "/search?q=" + encode(p), {})
            elif where == "form body":
                body = ("comment=" + encode(p)).encode()
                status = send(conn, "POST", "/comment", {"content-type": "application/x-www-form-urlencoded"}, body)
            elif where == "path":
                status = send(conn, "GET", "/static/" + p.lstrip("/").replace(" ", "%20"), {})
            else:
                status = send(conn, "GET", "/", {"x-api-version": p.replace("\n", " ")})
            blocked += status == 403
        total += len(payloads)
        blocked_total += blocked
        print(f"{cls:<11} {where:<11} {len(payloads):>8}  {100 * blocked / len(payloads):5.1f} %")
    print(f"\n{'benign class':<21} {'requests':>8}  blocked")
    rows = {}
    for line in (CORPUS / "benign" / "requests.tsv").read_text().split("\n"):
        if not line or line.startswith("#"):
            continue
        cls, method, target, ctype, body = line.split("\t")
        headers = {} if ctype == "-" else {"content-type": ctype}
        data = b"" if ctype == "-" else unescape(body).encode()
        status = send(conn, method, target, headers, data)
        n, b = rows.get(cls, (0, 0))
        rows[cls] = (n + 1, b + (status == 403))
    for cls, (n, b) in rows.items():
        print(f"{cls:<21} {n:>8}  {b:>6}")
    benign_blocked = sum(b for _, b in rows.values())
    benign_total = sum(n for n, _ in rows.values())
    print(f"\nattacks blocked: {blocked_total} of {total} ({100 * blocked_total / total:.1f} %); "
          f"benign blocked: {benign_blocked} of {benign_total}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8081")
