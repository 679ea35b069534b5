"""Security headers of Klaxon's own HTML pages (action links, admin): one definition."""

from __future__ import annotations

# Every page: never cached (it shows live state), never sent as a Referer (the URL may be a
# credential), never indexed, never framed (a framed button could be clickjacked).
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

# rq-dashboard's pages load their own scripts and styles and run inline scripts (polling
# through XHR): the same framing rules, with only this origin's resources allowed.
DASHBOARD_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

# The web app's pages (app.http.pages): the same rules, and only this origin's own scripts and
# style sheets (htmx and app.js, vendored; no inline script or style, no eval) and requests.
WEB_APP_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
WEB_APP_HEADERS = {**PAGE_HEADERS, "Content-Security-Policy": WEB_APP_CSP}
