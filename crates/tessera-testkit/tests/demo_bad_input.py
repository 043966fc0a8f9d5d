"""Bad input against the demo application and the development identity provider of `tessera dev`.

Usage: python demo_bad_input.py MANIFEST
Checks: a wrong password gets the sign-in page again with a message; a forged state, a replayed
state, a wrong PKCE verifier and a reused authorization code are refused; the session cookie is
HttpOnly, SameSite and opaque; an unknown dataset is a 404 page, not a 500. Prints
"demo bad input ok" last only when every check held.
"""
import base64
import hashlib
import html
import http.cookiejar
import json
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

manifest = json.load(open(sys.argv[1]))
demo = manifest["demo_url"]
idp = manifest["idp"]
user = idp["users"][0]


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(f"expectation failed: {message}")
    print(f"ok: {message}", flush=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def opener(follow=True):
    jar = http.cookiejar.CookieJar()
    handlers = [urllib.request.HTTPCookieProcessor(jar)]
    if not follow:
        handlers.append(NoRedirect())
    return urllib.request.build_opener(*handlers), jar


def call(op, url, data=None):
    try:
        r = op.open(url, data=urllib.parse.urlencode(data).encode() if data is not None else None)
        return r.status, r.geturl(), r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.geturl(), e.headers, e.read().decode()


def hidden_fields(page):
    return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}


def start_sign_in(op):
    """The demo's /signin, followed to the provider's sign-in page: (authorize URL, form)."""
    status, url, _, page = call(op, demo + "/signin")
    check(status == 200 and "<form" in page, "the sign-in page is shown")
    return url.split("?")[0], hidden_fields(page)


# 1. A wrong password: the sign-in page again, with a message.
op, jar = opener()
action, form = start_sign_in(op)
status, _, _, page = call(op, action, dict(form, username=user["username"], password="wrong"))
check(status == 401 and "do not match" in page and "<form" in page,
      "a wrong password gets the sign-in page again with a message")

# 2. A forged state: the code comes back with another state; the demo refuses it.
op, jar = opener(follow=False)
status, _, headers, _ = call(op, demo + "/signin")
check(status == 303, "the demo redirects to the provider")
authorize = headers["location"]
status, _, _, page = call(op, authorize)
form = hidden_fields(page)
status, _, headers, _ = call(op, authorize.split("?")[0], dict(form, username=user["username"], password=user["password"]))
check(status == 303 and "/callback?" in headers["location"], "the provider redirects back with a code")
callback = headers["location"]
forged = re.sub(r"state=[^&]+", "state=forged", callback)
status, _, _, page = call(op, forged)
check(status == 400 and "Sign-in refused" in page, "a forged state is refused")
# The same sign-in cannot be completed afterwards either (its state was used up), and a
# replay of the genuine callback is refused.
status, _, _, page = call(op, callback)
check(status == 400 and "Sign-in refused" in page, "the callback after a refused state is refused")

# 3. A replayed state: a successful callback, replayed.
op, jar = opener(follow=False)
status, _, headers, _ = call(op, demo + "/signin")
authorize = headers["location"]
_, _, _, page = call(op, authorize)
_, _, headers, _ = call(op, authorize.split("?")[0], dict(hidden_fields(page), username=user["username"], password=user["password"]))
callback = headers["location"]
status, _, headers, _ = call(op, callback)
check(status == 303 and headers["location"] == "/datasets", "the genuine callback signs in")
cookies = headers.get_all("set-cookie") or []
session = [c for c in cookies if c.startswith("tessera_demo_session=")]
check(len(session) == 1, "a session cookie is set")
attrs = [a.strip().lower() for a in session[0].split(";")]
value = attrs[0].split("=", 1)[1]
check("httponly" in attrs, "the session cookie is HttpOnly")
check(any(a.startswith("samesite=") for a in attrs), "the session cookie is SameSite")
check(len(value) >= 40 and user["username"].split(".")[0] not in value.lower() and "." not in value,
      "the session cookie is opaque")
status, _, _, page = call(op, callback)
check(status == 400 and "Sign-in refused" in page, "a replayed state is refused")
# The signed-in browser: an unknown dataset is a 404 page, not a 500.
status, _, _, page = call(op, demo + "/datasets/no-such-dataset")
check(status == 404 and "Not found" in page, "an unknown dataset is a 404 page")
status, _, _, page = call(op, demo + "/datasets/../../etc/passwd")
check(status in (404, 400), "a path outside the datasets is not served")

# 4. PKCE and codes, at the provider's token endpoint, as a client of its own.
verifier = secrets.token_urlsafe(48)
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
params = {"response_type": "code", "client_id": idp["client_id"], "redirect_uri": demo + "/callback",
          "scope": "openid", "state": "s-" + secrets.token_hex(8), "code_challenge": challenge,
          "code_challenge_method": "S256"}
op, jar = opener(follow=False)
status, _, _, page = call(op, idp["issuer"] + "/authorize?" + urllib.parse.urlencode(params))
check(status == 200, "the provider shows its sign-in page to a PKCE request")
status, _, _, page = call(op, idp["issuer"] + "/authorize?" + urllib.parse.urlencode(dict(params, code_challenge_method="plain")))
check(status == 400, "a request without S256 PKCE is refused")
status, _, _, page = call(op, idp["issuer"] + "/authorize?" + urllib.parse.urlencode(dict(params, redirect_uri="http://evil.example/cb")))
check(status == 400 and "redirect_uri" in page, "an unregistered redirect_uri is refused, not redirected to")
status, _, headers, _ = call(op, idp["issuer"] + "/authorize", dict(params, username=user["username"], password=user["password"]))
code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)["code"][0]
token = idp["issuer"] + "/token"
exchange = {"grant_type": "authorization_code", "code": code, "redirect_uri": demo + "/callback",
            "client_id": idp["client_id"]}
status, _, _, body = call(op, token, dict(exchange, code_verifier=secrets.token_urlsafe(48)))
check(status == 400 and json.loads(body)["error"] == "invalid_grant", "a wrong PKCE verifier is refused")
# The code was spent by that attempt: even the right verifier cannot use it now.
status, _, _, body = call(op, token, dict(exchange, code_verifier=verifier))
check(status == 400 and "already been used" in json.loads(body)["error_description"],
      "a code is used once, even by a failed exchange")
# A fresh code, the right verifier: tokens; the same code again: refused.
status, _, headers, _ = call(op, idp["issuer"] + "/authorize", dict(params, username=user["username"], password=user["password"]))
code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)["code"][0]
status, _, _, body = call(op, token, dict(exchange, code=code, code_verifier=verifier))
tokens = json.loads(body)
check(status == 200 and tokens.get("id_token") and tokens.get("refresh_token"), "the right verifier gets tokens")
claims = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
check(claims["iss"] == idp["issuer"] and claims["aud"] == idp["client_id"] and claims.get("oid")
      and claims.get("preferred_username") and claims.get("jti"), "the ID token has Entra's shape")
status, _, _, body = call(op, token, dict(exchange, code=code, code_verifier=verifier))
check(status == 400 and json.loads(body)["error"] == "invalid_grant", "a reused authorization code is refused")
# Refresh tokens rotate: the new one works, the old one does not.
refresh = {"grant_type": "refresh_token", "client_id": idp["client_id"], "refresh_token": tokens["refresh_token"]}
status, _, _, body = call(op, token, refresh)
check(status == 200 and json.loads(body)["refresh_token"] != tokens["refresh_token"], "a refresh token gets new tokens")
status, _, _, body = call(op, token, refresh)
check(status == 400, "a used refresh token is refused")
print("demo bad input ok")
