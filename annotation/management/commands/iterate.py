"""`python manage.py iterate <project> [--wait]`: start (or join) an iteration of the RLHF loop.

The steps run on the Celery workers (`gpu` and `default` queues); with `--wait` this command
follows them with one progress bar per step and exits non-zero if the iteration fails.
"""
import json
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotation.errors import DomainError
from annotation.models import Iteration, Project
from annotation.services.iterations import ALGORITHMS, iteration_resume, iteration_start

POLL_SECONDS = 1.0
FINAL = (Iteration.Status.SUCCEEDED, Iteration.Status.FAILED, Iteration.Status.CANCELLED)


class Command(BaseCommand):
    help = "Start an iteration of the training loop for a project (or join the running one)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project id or name")
        parser.add_argument("--algorithm", choices=ALGORITHMS, help="default: the project's setting")
        parser.add_argument("--hyperparameters", help='JSON, e.g. \'{"ppo": {"steps": 50}}\'')
        parser.add_argument("--resume", action="store_true",
                            help="resume the project's latest failed or cancelled iteration instead")
        parser.add_argument("--wait", action="store_true", help="follow the steps until the iteration ends")
        parser.add_argument("--timeout", type=float, default=0, help="with --wait: give up after this many seconds")

    def handle(self, *args, project, algorithm, hyperparameters, resume, wait, timeout, **options):
        project = self._project(project)
        try:
            if resume:
                latest = Iteration.objects.filter(project=project).order_by("-number").first()
                if latest is None:
                    raise CommandError(f"Project {project.name!r} has no iteration to resume.")
                iteration = iteration_resume(iteration=latest)
                self.stdout.write(f"Resuming iteration {iteration.number} (id {iteration.pk}) of {project.name!r}.")
            else:
                started = iteration_start(project=project, algorithm=algorithm,
                                          hyperparameters=self._json(hyperparameters), trigger="command")
                iteration = started.iteration
                verb = "Started" if started.created else "Already running:"
                self.stdout.write(f"{verb} iteration {iteration.number} (id {iteration.pk}) of {project.name!r}, "
                                  f"algorithm {iteration.algorithm}.")
        except DomainError as error:
            raise CommandError(error.message) from error
        if wait:
            self._follow(iteration, timeout)

    def _project(self, reference: str) -> Project:
        project = Project.objects.filter(pk=int(reference)).first() if reference.isdigit() else None
        project = project or Project.objects.filter(name=reference).first()
        if project is None:
            raise CommandError(f"No project with id or name {reference!r}.")
        return project

    def _json(self, text: str | None):
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise CommandError(f"--hyperparameters is not valid JSON: {error}") from error

    def _follow(self, iteration: Iteration, timeout: float) -> None:
        jobs = list(iteration.jobs.order_by("order"))
        width = max(len(job.step) for job in jobs)
        bars = {job.pk: tqdm(total=100, desc=job.step.ljust(width), position=i, leave=True, unit="%",
                             bar_format="{desc} |{bar}| {n:3.0f}% {postfix}") for i, job in enumerate(jobs)}
        started = time.monotonic()
        try:
            while True:
                iteration.refresh_from_db()
                for job in iteration.jobs.all():
                    bar = bars[job.pk]
                    bar.n = round(job.progress * 100, 1)
                    bar.set_postfix_str(job.status, refresh=False)
                    bar.refresh()
                if iteration.status in FINAL:
                    break
                if timeout and time.monotonic() - started > timeout:
                    raise CommandError(f"Gave up waiting after {timeout:g} s; iteration {iteration.pk} is "
                                       f"{iteration.status} (it keeps running on the workers).")
                time.sleep(POLL_SECONDS)
        finally:
            for bar in bars.values():
                bar.close()
        if iteration.status != Iteration.Status.SUCCEEDED:
            raise CommandError(f"Iteration {iteration.number} {iteration.status}: {iteration.error or 'cancelled'}")
        self.stdout.write(self.style.SUCCESS(f"Iteration {iteration.number} succeeded: policy "
                                             f"{iteration.policy_after.name if iteration.policy_after else '?'}."))
