"""`python manage.py demo`: the demo projects, their logins, first tasks and tiny base policy.

Two projects: "Demo: a helpful and harmless assistant" (the synthetic world, where the loop is
measured) and "Real model: SmolLM2-135M-Instruct" (real text to try annotation on), whose tasks the
worker generates in the background; this command only queues that.

Idempotent: `make run` calls it on every start. With `--simulate N` it also starts N simulated
annotators in the background (a child process) that judge through the running server's API.
"""
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotation.models import Judgement
from annotation.services.projects import member_add
from simulation.demo_setup import (
    base_policy_build,
    base_policy_dir,
    base_policy_register,
    demo_setup,
)
from simulation.real_model_demo import real_model_demo_setup
from simulation.simulated_annotators import DEFAULT_PASSWORD, default_profiles


class Command(BaseCommand):
    help = "Creates the demo project, logins, first tasks and the tiny base policy (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=0, help="seed of the demo corpus")
        parser.add_argument("--skip-policy", action="store_true", help="do not build the tiny base policy")
        parser.add_argument("--skip-real-model", action="store_true",
                            help="do not set up the real-model project (nor queue its generation)")
        parser.add_argument("--simulate", type=int, default=0, metavar="N",
                            help="start N simulated annotators in the background against --url")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server the annotators use")
        parser.add_argument("--seconds-per-judgement", type=float, default=3.0,
                            help="think time of each simulated annotator")

    def handle(self, *args, **options):
        if options["simulate"] < 0:
            raise CommandError("--simulate takes the number of annotators (0 or more).")
        summary = demo_setup(seed=options["seed"])
        project = summary.project
        if summary.import_errors:
            first = summary.import_errors[0]
            raise CommandError(f"demo content did not import: line {first['line']}: {first['message']}")
        self.stdout.write(
            f"Demo project #{project.pk} {project.name!r}: {summary.prompts_created} new prompts, "
            f"{summary.tasks_created} new tasks ({project.tasks.count()} tasks, "
            f"{Judgement.objects.filter(project=project).count()} judgements in all)."
        )
        if not options["skip_policy"]:
            self.ensure_base_policy(project, seed=options["seed"])
        if not options["skip_real_model"]:
            self.ensure_real_model_project(summary)
        self.print_logins(summary)
        if options["simulate"]:
            self.start_simulation(project, options)

    def ensure_base_policy(self, project, *, seed):
        output = base_policy_dir()
        if not (output / "config.json").exists():
            self.stdout.write(f"Building the tiny base policy in {output} (1-2 minutes)...")
            try:
                base_policy_build(output=output, seed=seed, stream=self.stdout)
            except RuntimeError as error:
                # The platform still works for annotation without a policy; say so plainly, and how
                # to get one (nothing half-built is left, so the next run starts the build afresh).
                self.stderr.write(
                    f"Base policy not built: {error}. Annotation works without it; training iterations "
                    f"need it. Run `make run` (or `python manage.py demo`) again to build it.")
                return
        policy = base_policy_register(project=project, path=output)
        self.stdout.write(f"Reference policy {policy.name!r}: {policy.path}")

    def ensure_real_model_project(self, summary):
        admin = get_user_model().objects.get(username="admin")
        demo = real_model_demo_setup(admin=admin, accounts=summary.accounts)
        generation = demo.generation
        if demo.retried:
            state = "the generation that failed is queued again"
        elif demo.queued:
            state = "its responses are queued for the worker (tasks appear as they are generated)"
        else:
            state = f"generation {generation.status}"
        self.stdout.write(
            f"Real-model project #{demo.project.pk} {demo.project.name!r}: {demo.prompts_created} new prompts; "
            f"{state}: {generation.prompts_done}/{generation.prompts_total} prompts, "
            f"{generation.tasks_created} tasks.")

    def print_logins(self, summary):
        self.stdout.write("Demo logins (username / password):")
        users = {user.username: user for user in get_user_model().objects.filter(
            username__in=[account.username for account in summary.accounts])}
        for account in summary.accounts:
            user = users.get(account.username)
            if user is not None and not user.check_password(account.password):
                password = "(changed since the demo created it; not shown)"
            else:
                password = account.password
            self.stdout.write(f"  {account.role:<10} {account.username} / {password}")

    def start_simulation(self, project, options):
        count = options["simulate"]
        # Accounts are created here, through the same service the members API uses, so the
        # background process needs no admin password.
        admin = get_user_model().objects.get(username="admin")
        for profile in default_profiles(count, seed=options["seed"]):
            exists = get_user_model().objects.filter(username=profile.username).exists()
            member_add(project=project, actor=admin, username=profile.username, role="annotator",
                       password=None if exists else DEFAULT_PASSWORD)
        command = [
            sys.executable, "-m", "simulation.simulate", "--url", options["url"],
            "--project", str(project.pk), "--annotators", str(count), "--seed", str(options["seed"]),
            "--seconds-per-judgement", str(options["seconds_per_judgement"]),
        ]
        # Same process group as the caller: Ctrl-C in `make run` stops the annotators too.
        process = subprocess.Popen(command, cwd=settings.BASE_DIR)
        self.stdout.write(f"Started {count} simulated annotators (pid {process.pid}) against {options['url']}.")
