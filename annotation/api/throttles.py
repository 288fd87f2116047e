"""Sign-in throttling: a limit on password guesses per client address and per username.

Each sign-in attempt is counted when it arrives (an atomic increment in the shared cache, so a
burst of parallel guesses cannot all slip past the limit) and a successful one is uncounted: only
failures add up, so a room of annotators behind one address signing in together is never refused.
Counts live in fixed windows of the rate's period, in the default cache (Redis where configured),
which every web process shares.
"""
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`"10/min"` -> (10, 60): attempts allowed and the window in seconds (DRF's rate format)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


class FailedSignInThrottle(BaseThrottle):
    """Refuses a sign-in when `rate` attempts for the same key failed within the current window."""

    scope = ""  # a key of settings.SIGN_IN_THROTTLE_RATES

    def ident_for(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        ident = self.ident_for(request)
        if not ident:
            return True
        self.limit, self.window = parse_rate(settings.SIGN_IN_THROTTLE_RATES[self.scope])
        now = time.time()
        window_number = int(now // self.window)
        self.window_ends = (window_number + 1) * self.window
        key = f"sign-in-attempts:{self.scope}:{ident}:{window_number}"
        cache.add(key, 0, timeout=self.window + 1)
        try:
            attempts = cache.incr(key)
        except ValueError:  # expired between add and incr: this attempt starts a new count
            cache.set(key, 1, timeout=self.window + 1)
            attempts = 1
        request._sign_in_attempt_keys = getattr(request, "_sign_in_attempt_keys", []) + [key]
        return attempts <= self.limit

    def wait(self) -> float:
        return max(1.0, self.window_ends - time.time())


class FailedSignInByAddressThrottle(FailedSignInThrottle):
    """Guesses from one client address (DRF's REMOTE_ADDR / X-Forwarded-For rule, see NUM_PROXIES)."""

    scope = "address"

    def ident_for(self, request) -> str | None:
        return self.get_ident(request)


class FailedSignInByUsernameThrottle(FailedSignInThrottle):
    """Guesses at one account from anywhere (a spread-out attack on one password)."""

    scope = "username"

    def ident_for(self, request) -> str | None:
        data = request.data
        username = data.get("username") if hasattr(data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        return username.strip().lower()[:150].encode("utf-8", "backslashreplace").hex()


def sign_in_succeeded(request) -> None:
    """Uncounts this request's attempt: only failed sign-ins count towards the limits."""
    for key in getattr(request, "_sign_in_attempt_keys", []):
        try:
            cache.decr(key)
        except ValueError:  # its window already ended
            pass


class SignInThrottleMixin:
    """For the sign-in views: the two limits above and a 429 that says what happened."""

    throttle_classes = [FailedSignInByAddressThrottle, FailedSignInByUsernameThrottle]

    def throttled(self, request, wait):
        raise Throttled(wait, detail="Too many failed sign-in attempts; wait before trying again.")
