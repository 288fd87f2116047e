"""Sign-in throttling: a limit on password guesses per client address and per username.

Each sign-in attempt is counted when it arrives (an atomic increment in the shared cache, so a
burst of parallel guesses cannot all slip past the limit) and a successful one is uncounted: only
failures add up, so a room of annotators behind one address signing in together is never refused.
Counts live in fixed windows of the rate's period, in the default cache (Redis where configured),
which every web process shares. The same counts guard the API's two sign-in endpoints (DRF
throttles) and Django's own sign-in forms, the admin's and the browsable API's (`sign_in_limited`).
"""
import functools
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TOO_MANY = "Too many failed sign-in attempts; wait before trying again."


def parse_rate(rate: str) -> tuple[int, int]:
    """`"10/min"` -> (10, 60): attempts allowed and the window in seconds (DRF's rate format)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period[0]]


def count_attempt(scope: str, ident: str) -> tuple[str, float | None]:
    """Counts one attempt for `ident` under the limit `scope` ("address" or "username"):
    (its cache key, None when allowed or the seconds until the window ends when over the limit)."""
    limit, window = parse_rate(settings.SIGN_IN_THROTTLE_RATES[scope])
    now = time.time()
    window_number = int(now // window)
    key = f"sign-in-attempts:{scope}:{ident}:{window_number}"
    cache.add(key, 0, timeout=window + 1)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr: this attempt starts a new count
        cache.set(key, 1, timeout=window + 1)
        attempts = 1
    return key, None if attempts <= limit else max(1.0, (window_number + 1) * window - now)


def uncount_attempts(keys: list[str]) -> None:
    """Takes successful attempts back: only failed sign-ins count towards the limits."""
    for key in keys:
        try:
            cache.decr(key)
        except ValueError:  # its window already ended
            pass


def client_address(request) -> str:
    """The client's address by DRF's rule (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES)."""
    return BaseThrottle().get_ident(request)


def username_ident(username) -> str | None:
    if not isinstance(username, str) or not username.strip():
        return None
    return username.strip().lower()[:150].encode("utf-8", "backslashreplace").hex()


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
        key, self.wait_seconds = count_attempt(self.scope, ident)
        request._sign_in_attempt_keys = getattr(request, "_sign_in_attempt_keys", []) + [key]
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds


class FailedSignInByAddressThrottle(FailedSignInThrottle):
    """Guesses from one client address."""

    scope = "address"

    def ident_for(self, request) -> str | None:
        return client_address(request)


class FailedSignInByUsernameThrottle(FailedSignInThrottle):
    """Guesses at one account from anywhere (a spread-out attack on one password)."""

    scope = "username"

    def ident_for(self, request) -> str | None:
        data = request.data
        return username_ident(data.get("username") if hasattr(data, "get") else None)


def sign_in_succeeded(request) -> None:
    """Uncounts this request's attempt (see the throttles above)."""
    uncount_attempts(getattr(request, "_sign_in_attempt_keys", []))


class SignInThrottleMixin:
    """For the API's sign-in views: the two limits above and a 429 that says what happened."""

    throttle_classes = [FailedSignInByAddressThrottle, FailedSignInByUsernameThrottle]

    def throttled(self, request, wait):
        raise Throttled(wait, detail=TOO_MANY)


def sign_in_limited(view):
    """The same limits for a Django sign-in form view (a POST of `username` and `password` that
    redirects when it signs the user in): 429 past a limit, a success not counted."""

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        keys, waits = [], []
        for scope, ident in (("address", client_address(request)),
                             ("username", username_ident(request.POST.get("username")))):
            if ident:
                key, wait = count_attempt(scope, ident)
                keys.append(key)
                if wait is not None:
                    waits.append(wait)
        if waits:
            refused = HttpResponse(TOO_MANY, status=429, content_type="text/plain; charset=utf-8")
            refused["Retry-After"] = str(math.ceil(max(waits)))
            return refused
        response = view(request, *args, **kwargs)
        if response.status_code in (301, 302, 303) and request.user.is_authenticated:
            uncount_attempts(keys)
        return response

    return limited
