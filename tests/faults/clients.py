"""Simulated annotators over HTTP that behave like the web UI when the server misbehaves: a request
that gets no answer, or a 502/503, is sent again as it was (a submit with the same client_id)."""
from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

RETRIED_STATUSES = {502, 503, 504}
REQUEST_TIMEOUT = 30


@dataclass
class Answers:
    """What every client saw, shared by the threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter = field(default_factory=Counter)  # (method path kind, status or "no answer")
    accepted: dict = field(default_factory=dict)  # client_id -> judgement id the client was answered
    unexpected: list = field(default_factory=list)  # answers no client should ever get
    unavailable_bodies: list = field(default_factory=list)  # (body, Retry-After) of each 503

    def record(self, kind: str, outcome) -> None:
        with self.lock:
            self.statuses[(kind, outcome)] += 1

    def count(self, outcome) -> int:
        with self.lock:
            return sum(n for (_, seen), n in self.statuses.items() if seen == outcome)


class HttpAnnotator(threading.Thread):
    """Leases and judges tasks of one project until nothing is left (204) or `stop` is set."""

    def __init__(self, *, base_url: str, token: str, project_id: int, answers: Answers, stop: threading.Event,
                 think_seconds: float = 0.0, give_up_after: float = 120.0):
        super().__init__(daemon=True)
        self.think_seconds = think_seconds
        self.base_url = base_url
        self.project_id = project_id
        self.answers = answers
        self.stop = stop
        self.give_up_after = give_up_after
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})
        self.failure: BaseException | None = None
        self.finished = False

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                lease = self.send("next", f"/api/projects/{self.project_id}/next/")
                if lease is None:
                    return
                if lease.status_code == 204:
                    self.finished = True
                    return
                if lease.status_code != 200:
                    self.unexpected("next", lease)
                    return
                body = lease.json()
                assignment_id = body["assignment"]["id"]
                first, second = (response["id"] for response in body["task"]["responses"])
                client_id = f"fault-{assignment_id}"
                self.stop.wait(self.think_seconds)  # reading the task
                judged = self.send("judgement", f"/api/assignments/{assignment_id}/judgement/",
                                   {"client_id": client_id, "ranking": [[first], [second]], "strength": 3})
                if judged is None:
                    return
                if judged.status_code not in (200, 201):
                    self.unexpected("judgement", judged)
                    return
                with self.answers.lock:
                    earlier = self.answers.accepted.setdefault(client_id, judged.json()["id"])
                assert earlier == judged.json()["id"], f"{client_id} answered {earlier} and {judged.json()['id']}"
        except BaseException as error:  # reported by the test with the thread's context
            self.failure = error

    def send(self, kind: str, path: str, body: dict | None = None) -> requests.Response | None:
        """POSTs until an answer other than "try again" comes; None if `stop` or the time is up."""
        deadline = time.monotonic() + self.give_up_after
        pause = 0.05
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                answer = self.session.post(self.base_url + path, json=body, timeout=REQUEST_TIMEOUT)
            except requests.RequestException:
                self.answers.record(kind, "no answer")
            else:
                self.answers.record(kind, answer.status_code)
                if answer.status_code == 503:
                    with self.answers.lock:
                        self.answers.unavailable_bodies.append((answer.text, answer.headers.get("Retry-After")))
                if answer.status_code not in RETRIED_STATUSES:
                    return answer
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        return None

    def unexpected(self, kind: str, answer: requests.Response) -> None:
        with self.answers.lock:
            self.answers.unexpected.append((kind, answer.status_code, answer.text[:300]))


def join_all(annotators: list[HttpAnnotator], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for annotator in annotators:
        annotator.join(max(0.1, deadline - time.monotonic()))
