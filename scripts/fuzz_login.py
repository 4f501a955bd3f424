"""Log in as a fuzzing account and print its access token; a generated password is
changed first (the API refuses other calls until it is)."""
import json
import sys
import urllib.request

base, username, password = sys.argv[1:4]


def post(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else {}


login = post("/api/v1/auth/login", {"username": username, "password": password})
if login.get("must_change_password"):
    new = password + "-Fz9!changed"
    post("/api/v1/auth/password", {"current_password": password, "new_password": new},
         login["access_token"])
    login = post("/api/v1/auth/login", {"username": username, "password": new})
print(login["access_token"])
