"""Several users on one test server: a token per user, and an Authorizer with roles."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import Authorizer, IdentityProvider, User

USERS = {
    "alice-token": User(username="alice", name="Alice Liddell", display_name="Alice"),
    "bob-token": User(username="bob", name="Bob", display_name="Bob"),
    "viewer-token": User(username="vera", name="Vera Viewer", display_name="Vera"),
    "nobody-token": User(username="nobody", name="Nobody"),
    # an identity provider handing over a colour and an avatar that are not what they seem
    "mallory-token": User(
        username="mallory",
        name="Mallory",
        color='red;background:url("https://evil.example/x")',
        avatar_url="javascript:alert(1)",
    ),
    "carol-token": User(
        username="carol", name="Carol", color="#ff8800", avatar_url="https://example.org/c.png"
    ),
}
READ_ONLY = {"vera"}
NO_ACCESS = {"nobody"}


def token_header(user: str) -> dict[str, str]:
    return {"Authorization": f"token {user}-token"}


def cookie_header(user: str) -> dict[str, str]:
    return {"Cookie": f"test-user={user}", "Authorization": ""}


class TestIdentityProvider(IdentityProvider):
    def get_user(self, handler: Any) -> Any:
        header = handler.request.headers.get("Authorization", "")
        token = header[len("token ") :] if header.startswith("token ") else ""
        token = token or handler.get_argument("token", "")
        by_cookie = handler.get_cookie("test-user")
        if by_cookie:
            # like a browser's login cookie: not token-authenticated, so origin and XSRF apply
            return USERS.get(f"{by_cookie}-token")
        if token in USERS:
            handler._token_authenticated = True  # token requests need no XSRF cookie
            return USERS[token]
        return super().get_user(handler)


class TestAuthorizer(Authorizer):
    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        if user.username in NO_ACCESS:
            return False
        if user.username in READ_ONLY:
            return action == "read"
        return True
