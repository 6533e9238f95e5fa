"""`python manage.py run_consumer NAME`: one stream consumer from the registry."""

from django.core.management.base import BaseCommand, CommandError

from peacewatch.consumers import KAFKA_CONSUMERS
from peacewatch.streams import runner


class Command(BaseCommand):
    # The web process and migrate run the checks; here they would only delay a restarted consumer.
    requires_system_checks = []
    help = "Run one stream consumer: " + ", ".join(
        f"{name} ({spec.description})" for name, spec in KAFKA_CONSUMERS.items()
    )

    def add_arguments(self, parser):
        parser.add_argument("name", choices=sorted(KAFKA_CONSUMERS))
        parser.add_argument("--max-batch", type=int, help="most records handled per batch")
        parser.add_argument("--group-id", help="override the consumer group (benchmarks, replays)")
        parser.add_argument(
            "--check",
            type=float,
            metavar="SECONDS",
            help="exit 0 if this consumer's liveness file is younger than SECONDS and it is not stalled "
            "(container healthcheck)",
        )

    def handle(self, *args, name: str, max_batch, group_id, check, **options):
        spec = KAFKA_CONSUMERS[name]
        if check is not None:
            liveness = runner.Liveness(name)
            problem = liveness.problem(check)
            if problem is not None:
                raise CommandError(problem)
            self.stdout.write(f"{name} alive, last beat {liveness.age():.1f}s ago")
            return
        runner.run(spec, max_batch=max_batch, group_id=group_id)
