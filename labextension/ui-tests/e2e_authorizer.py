"""A test-only Jupyter Authorizer: a browser with the cookie `collab_e2e_viewer=1`
may read but not write (so jupyter-collab gives it the `viewer` role)."""

from jupyter_server.auth.authorizer import Authorizer


class ViewerCookieAuthorizer(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        if action == "write" and handler.get_cookie("collab_e2e_viewer") == "1":
            return False
        return True
