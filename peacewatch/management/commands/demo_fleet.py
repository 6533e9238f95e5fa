"""`python manage.py demo_fleet`: register the simulated drones, so the fleet's health shows.

Run by `make run`. Idempotent: drones already registered are left as they are.
"""

from django.core.management.base import BaseCommand

from ingest.models import Drone


class Command(BaseCommand):
    help = "Register the simulator's drones pw-00000 ... in the drone registry (without tokens)."

    def add_arguments(self, parser):
        parser.add_argument("--drones", type=int, default=200)

    def handle(self, *args, drones: int, **options):
        squads = ("north", "south", "east", "west")
        Drone.objects.bulk_create(
            [Drone(drone_id=f"pw-{i:05d}", name=f"Peacewatcher {i}", squad=squads[i % 4]) for i in range(drones)],
            ignore_conflicts=True,
        )
        self.stdout.write(f"Simulated fleet: {drones} drones registered ({Drone.objects.count()} in the registry).")
