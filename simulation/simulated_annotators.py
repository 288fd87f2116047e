"""Simulated annotators: clients of the REST API over real HTTP that judge by the gold reward.

Each annotator runs in its own thread with its own token and its own random generator. A
Bradley-Terry annotator prefers the response with the higher gold reward with probability
sigmoid((r_left - r_right) / temperature + position_bias) (for K > 2 responses, a Plackett-Luce
ranking with the same utilities); a spammer picks at random or always the left (first shown)
response. The choice functions are pure so they can be tested statistically without a server.
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

from .gold_reward import bradley_terry_probability, gold_reward

logger = logging.getLogger(__name__)

BRADLEY_TERRY = "bradley_terry"
RANDOM_SPAMMER = "random"
ALWAYS_LEFT = "always_left"
BEHAVIORS = (BRADLEY_TERRY, RANDOM_SPAMMER, ALWAYS_LEFT)

DEFAULT_PASSWORD = "prefloop-simulated"


@dataclass(frozen=True)
class AnnotatorProfile:
    """How one simulated person judges."""

    username: str
    behavior: str = BRADLEY_TERRY
    temperature: float = 1.0  # gold-reward points per logit: higher is noisier
    position_bias: float = 0.0  # logit added in favour of the first shown (left) response
    seconds_per_judgement: float = 0.0  # think time before each submit
    password: str = DEFAULT_PASSWORD

    def __post_init__(self):
        if self.behavior not in BEHAVIORS:
            raise ValueError(f"behavior must be one of {BEHAVIORS}, not {self.behavior!r}")
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")
        if self.seconds_per_judgement < 0:
            raise ValueError("seconds_per_judgement must not be negative")


def probability_left_preferred(profile: AnnotatorProfile, reward_left: float, reward_right: float) -> float:
    """P(this annotator prefers the left response) for a pairwise task."""
    if profile.behavior == RANDOM_SPAMMER:
        return 0.5
    if profile.behavior == ALWAYS_LEFT:
        return 1.0
    z = (reward_left - reward_right) / profile.temperature + profile.position_bias
    return bradley_terry_probability(z, 0.0)


def choose_ranking(profile: AnnotatorProfile, rewards: list[float], rng: random.Random) -> list[int]:
    """A full ranking (display indices, best first) of responses shown with these gold rewards.

    Bradley-Terry annotators draw a Plackett-Luce ranking with utilities reward / temperature
    (+ position_bias for the first shown); for two responses that is exactly the pairwise
    Bradley-Terry probability above.
    """
    indices = list(range(len(rewards)))
    if profile.behavior == ALWAYS_LEFT:
        return indices
    if profile.behavior == RANDOM_SPAMMER:
        rng.shuffle(indices)
        return indices
    utilities = [reward / profile.temperature for reward in rewards]
    utilities[0] += profile.position_bias
    ranking: list[int] = []
    remaining = indices
    while remaining:
        top = max(utilities[i] for i in remaining)
        weights = [math.exp(utilities[i] - top) for i in remaining]
        pick = rng.choices(remaining, weights=weights)[0]
        ranking.append(pick)
        remaining = [i for i in remaining if i != pick]
    return ranking


def choose_strength(profile: AnnotatorProfile, reward_gap: float, rng: random.Random) -> int:
    """The 1..4 strength (Llama 2 scale) an annotator gives for a gold-reward gap."""
    if profile.behavior != BRADLEY_TERRY:
        return rng.randint(1, 4)
    scaled = abs(reward_gap) / profile.temperature
    if scaled < 0.5:
        return 1
    if scaled < 1.5:
        return 2
    if scaled < 3.0:
        return 3
    return 4


def reported_time_ms(profile: AnnotatorProfile, rng: random.Random) -> int:
    """The reading time an annotator reports: careful people take seconds (lognormal around 8 s),
    spammers click through in about one. Independent of the real delay, so a fast headless run
    still looks like people to quality control, except for the spammers."""
    median_seconds = 8.0 if profile.behavior == BRADLEY_TERRY else 1.0
    return int(1000 * median_seconds * math.exp(rng.gauss(0.0, 0.4)))


def default_profiles(count: int, *, seed: int = 0, seconds_per_judgement: float = 0.0) -> list[AnnotatorProfile]:
    """A realistic small crowd: mostly careful annotators of varying noise, one with a strong
    left-side bias (from 3 annotators), one random spammer (from 4) and one always-left spammer
    (from 6)."""
    rng = random.Random(seed)
    profiles = []
    for index in range(count):
        username = f"sim-{index + 1:02d}"
        if count >= 4 and index == count - 1:
            profile = AnnotatorProfile(username, behavior=RANDOM_SPAMMER)
        elif count >= 6 and index == count - 2:
            profile = AnnotatorProfile(username, behavior=ALWAYS_LEFT)
        elif count >= 3 and index == 1:
            profile = AnnotatorProfile(username, temperature=1.0, position_bias=1.5)
        else:
            profile = AnnotatorProfile(username, temperature=round(rng.uniform(0.5, 1.5), 2))
        profiles.append(
            AnnotatorProfile(
                profile.username,
                behavior=profile.behavior,
                temperature=profile.temperature,
                position_bias=profile.position_bias,
                seconds_per_judgement=seconds_per_judgement,
            )
        )
    return profiles


@dataclass
class JudgementRecord:
    """What one annotator did on one task (for tests and the report)."""

    task_id: int
    shown_response_ids: list[int]
    ranking_response_ids: list[int]
    gold_rewards: list[float]
    status_code: int


@dataclass
class AnnotatorStats:
    """What one annotator thread did."""

    username: str
    judged: int = 0
    errors: list[str] = field(default_factory=list)
    records: list[JudgementRecord] = field(default_factory=list)


class ApiError(RuntimeError):
    """The server refused a request with a 4xx status: retrying the same request will not help."""


class ApiClient:
    """A tiny REST client with token auth and retries (the same client_id on each retry, so a
    retried submit is idempotent on the server)."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30.0, retries: int = 5):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.timeout = timeout
        self.retries = retries
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def login(self, username: str, password: str) -> str:
        """Obtains a token and uses it for every further call."""
        response = self.request("POST", "/api/auth/token/", json={"username": username, "password": password})
        token = response.json()["token"]
        self.session.headers["Authorization"] = f"Token {token}"
        return token

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Sends a request; retries connection errors and 5xx with backoff; raises ApiError on 4xx."""
        delay = 0.2
        last_error = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
            except requests.RequestException as error:
                last_error = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400:
                    return response
                if response.status_code < 500:
                    raise ApiError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
                last_error = f"{method} {path} -> {response.status_code}: {response.text[:300]}"
            if attempt < self.retries:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise ApiError(f"{method} {path} failed after {self.retries + 1} attempts: {last_error}")


def add_annotator_members(base_url: str, *, project_id: int, manager_token: str, profiles: list[AnnotatorProfile]) -> None:
    """Creates the simulated annotators' accounts through the members API (idempotent: an
    existing member is fine)."""
    client = ApiClient(base_url, token=manager_token)
    for profile in profiles:
        try:
            client.request(
                "POST",
                f"/api/projects/{project_id}/members/",
                json={"username": profile.username, "role": "annotator", "password": profile.password},
            )
        except ApiError as error:
            if "already" not in str(error).lower():
                raise


class SimulatedAnnotator:
    """One simulated person: asks for the next task, judges it by the gold reward, submits."""

    def __init__(
        self,
        profile: AnnotatorProfile,
        *,
        base_url: str,
        project_id: int,
        seed: int = 0,
        max_judgements: int | None = None,
        stop_event: threading.Event | None = None,
        wait_for_work: bool = False,
        poll_seconds: float = 2.0,
        on_judgement=None,
        gold=gold_reward,
    ):
        self.profile = profile
        self.gold = gold  # (prompt, response text) -> gold reward; the synthetic world's by default
        self.project_id = project_id
        self.client = ApiClient(base_url)
        self.rng = random.Random(f"{seed}:{profile.username}")
        self.max_judgements = max_judgements
        self.stop_event = stop_event or threading.Event()
        self.wait_for_work = wait_for_work
        self.poll_seconds = poll_seconds
        self.on_judgement = on_judgement
        self.stats = AnnotatorStats(profile.username)

    def run(self) -> AnnotatorStats:
        """Judges until nothing is left (or, with wait_for_work, until stopped) or the cap is hit."""
        try:
            self.client.login(self.profile.username, self.profile.password)
            while not self.stop_event.is_set():
                if self.max_judgements is not None and self.stats.judged >= self.max_judgements:
                    break
                response = self.client.request("POST", f"/api/projects/{self.project_id}/next/")
                if response.status_code == 204:
                    if not self.wait_for_work:
                        break
                    self.stop_event.wait(self.poll_seconds)
                    continue
                self.judge(response.json())
        except Exception as error:  # a thread must report, not die silently
            logger.warning("simulated annotator %s stopped: %s", self.profile.username, error)
            self.stats.errors.append(str(error))
        return self.stats

    def judge(self, payload: dict) -> None:
        """Judges one leased task and submits the judgement (idempotent on its client_id)."""
        task = payload["task"]
        assignment_id = payload["assignment"]["id"]
        shown = task["responses"]
        rewards = [self.gold(task.get("prompt"), item["text"]) for item in shown]
        order = choose_ranking(self.profile, rewards, self.rng)
        ranked_ids = [shown[index]["id"] for index in order]
        body = {
            "ranking": [[response_id] for response_id in ranked_ids],
            # Unique per judgement across runs (not from the seeded generator, which repeats);
            # the retries inside `request` resend this same body, so a retry stays idempotent.
            "client_id": f"sim-{uuid.uuid4()}",
            "time_spent_ms": reported_time_ms(self.profile, self.rng),
        }
        if len(shown) == 2:
            body["strength"] = choose_strength(self.profile, rewards[order[0]] - rewards[order[1]], self.rng)
        if self.profile.seconds_per_judgement:
            self.stop_event.wait(self.profile.seconds_per_judgement)
        response = self.client.request("POST", f"/api/assignments/{assignment_id}/judgement/", json=body)
        self.stats.judged += 1
        self.stats.records.append(
            JudgementRecord(
                task_id=task["id"],
                shown_response_ids=[item["id"] for item in shown],
                ranking_response_ids=ranked_ids,
                gold_rewards=rewards,
                status_code=response.status_code,
            )
        )
        if self.on_judgement is not None:
            self.on_judgement(self.profile.username)


class SimulatedCrowd:
    """N simulated annotators, each in its own thread with its own token."""

    def __init__(
        self,
        profiles: list[AnnotatorProfile],
        *,
        base_url: str,
        project_id: int,
        seed: int = 0,
        max_judgements_each: int | None = None,
        wait_for_work: bool = False,
        on_judgement=None,
        gold=gold_reward,
    ):
        self.stop_event = threading.Event()
        self.annotators = [
            SimulatedAnnotator(
                profile,
                base_url=base_url,
                project_id=project_id,
                seed=seed,
                max_judgements=max_judgements_each,
                stop_event=self.stop_event,
                wait_for_work=wait_for_work,
                on_judgement=on_judgement,
                gold=gold,
            )
            for profile in profiles
        ]
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        """Starts every annotator's thread."""
        for annotator in self.annotators:
            thread = threading.Thread(target=annotator.run, name=annotator.profile.username, daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Asks every annotator to stop after its current judgement."""
        self.stop_event.set()

    def join(self, timeout: float | None = None) -> list[AnnotatorStats]:
        """Waits for every thread (up to `timeout` seconds in total) and returns their stats."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self.threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return [annotator.stats for annotator in self.annotators]

    def run(self, timeout: float | None = None) -> list[AnnotatorStats]:
        """Starts, waits until every annotator is done, and returns their stats."""
        self.start()
        return self.join(timeout)

    @property
    def judged(self) -> int:
        return sum(annotator.stats.judged for annotator in self.annotators)
