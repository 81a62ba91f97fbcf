"""Behind a trusted proxy the sign-in limit counts each client's own address."""

from __future__ import annotations

import re


def _form_token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_limit_counts_forwarded_addresses(database_url):
    from app import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "proxy", "TRUSTED_PROXIES": 1,
                      "LOGIN_RATE_LIMIT": 3})
    try:
        client = app.test_client()
        for _ in range(3):
            token = _form_token(client)
            answer = client.post("/login", data={"csrf_token": token, "username": "nobody", "password": "wrong"},
                                 headers={"X-Forwarded-For": "203.0.113.7"})
            assert answer.status_code == 401
        token = _form_token(client)
        blocked = client.post("/login", data={"csrf_token": token, "username": "nobody", "password": "wrong"},
                              headers={"X-Forwarded-For": "203.0.113.7"})
        assert blocked.status_code == 429 and "十分钟" in blocked.get_data(as_text=True)
        token = _form_token(client)
        other = client.post("/login", data={"csrf_token": token, "username": "nobody", "password": "wrong"},
                            headers={"X-Forwarded-For": "198.51.100.9"})
        assert other.status_code == 401  # another client behind the same proxy is not blocked
        secure = client.get("/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"})
        assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        app.extensions["db"].engine.dispose()
