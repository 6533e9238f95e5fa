"""Simulated drones: plausible reports for demos, tests and benchmarks.

Deterministic for a seed: drones fly smooth paths over a city, each sees 3-8
people drawn from a fixed synthetic population living in the district under
it (so the same people recur), every citizen's mood drifts around a personal
baseline (so about 1% of reports hold someone below the default threshold of
20), and words follow a Zipf-like frequency. All names and scores are
synthetic. Time is supplied by the caller, so a run can be real time, faster
than real time, or a back-filled day.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

GRID = 8  # the city is split into GRID x GRID districts, each with its own residents


def city_bounds() -> tuple[float, float, float, float]:
    """(south, west, north, east) of the city drones fly over: the CITY_BOUNDS setting."""
    from django.conf import settings

    return tuple(settings.CITY_BOUNDS)


def __getattr__(name: str):
    # ``CITY`` was a constant; it reads the setting now, when asked (bench/ still imports it).
    if name == "CITY":
        return city_bounds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


FIRST_NAMES = (
    "Jeanne Paul Marie Louis Camille Hugo Chloe Lucas Emma Jules Lea Arthur Manon Gabriel Ines Raphael "
    "Sarah Adam Alice Nathan Lina Ethan Julie Tom Clara Noah Eva Leo Anna Victor Zoe Mael Rose Sacha Iris "
    "Samuel Nina Oscar Louise Theo Agathe Malo Elise Robin Margaux Simon Lucie Axel Celia Bruno Helene Marc "
    "Sofia Anton Greta Pablo Lena Ivan Mira Omar Yara Erik Ada Felix Nora Elias Ilse Jonas Maya Karl Tessa"
).split()
LAST_NAMES = (
    "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel "
    "Garcia David Bertrand Roux Vincent Fournier Morel Girard Andre Mercier Blanc Guerin Boyer Garnier "
    "Chevalier Francois Legrand Gauthier Perrin Robin Clement Morin Nicolas Henry Roussel Mathieu Gautier "
    "Masson Marchand Duval Denis Dumont Marie Lemaire Noel Meyer Dufour Meunier Brun Blanchard Giraud Joly "
    "Riviere Lucas Brunet Gaillard Barbier Arnaud Martinez Gerard Roche Renard Schmitt Roy Leroux Colin"
).split()
VOCABULARY = (
    "the and you that was for are with his they this have from one had word but not what all were when "
    "your can said there use each which she how their will other about out many then them these some her "
    "would make like him into time has look two more write see number way could people than first water "
    "been call who oil its now find long down day did get come made may part bread work home market "
    "tomorrow tonight meeting square station bus train school hospital police drone leader peace harmony "
    "camp strike rent price queue wait rain cold late money family job friend news radio party street "
    "coffee bakery river bridge park church factory shift union protest march crowd noise quiet sleep "
    "dinner lunch ticket phone letter doctor children garden neighbour festival music football tax wage "
    "landlord border permit curfew checkpoint rumour secret whisper freedom angry tired hungry happy"
).split()


@dataclass
class Citizen:
    name: str
    baseline: float
    mood: float
    subject_id: str = ""


@dataclass
class Drone:
    drone_id: str
    lat: float
    lon: float
    heading: float
    speed: float
    altitude: float
    battery: float
    seq: int = 0
    firmware: str = "1.4.2"


@dataclass
class Fleet:
    """A deterministic fleet. ``next_report(now)`` advances one drone and returns its report."""

    drones: int = 200
    seed: int = 42
    interval_s: float = 60.0  # simulated seconds between two reports of one drone
    population_per_district: int = 160
    first_id: int = 0  # drone ids are pw-{first_id:05d} onwards, so several simulators can share a city
    city: tuple[float, float, float, float] = field(default_factory=city_bounds)  # south, west, north, east
    vocabulary_size: int = len(VOCABULARY)  # beyond the base list, made-up words (see ``vocabulary``)
    subject_ids: bool = False  # send each citizen's stable ``id`` (v1.1), as a recognition system would
    rng: random.Random = field(init=False)

    @classmethod
    def first_wave(cls, drones: int = 3500, seed: int = 42, **options) -> Fleet:
        """The data benchmarks stand on: a city of 102,400 people whose names repeat (5,040 names, as in
        life), each with a subject id, and a vocabulary of 5,000 words with a Zipf law."""
        return cls(
            drones=drones, seed=seed, population_per_district=1600, vocabulary_size=5000, subject_ids=True, **options
        )

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        rng = self.rng
        south, west, north, east = self.city
        self.fleet = [
            Drone(
                drone_id=f"pw-{self.first_id + i:05d}",
                lat=rng.uniform(south, north),
                lon=rng.uniform(west, east),
                heading=rng.uniform(0, 360),
                speed=rng.uniform(4, 14),
                altitude=rng.uniform(80, 150),
                battery=rng.uniform(40, 100),
                firmware=rng.choice(("1.4.2", "1.4.2", "1.4.2", "1.5.0")),
            )
            for i in range(self.drones)
        ]
        self.districts: list[list[Citizen]] = []
        for _ in range(GRID * GRID):
            people = []
            for _ in range(self.population_per_district):
                name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                # Most people are calm; a restless few drift towards low scores.
                baseline = rng.gauss(36, 6) if rng.random() < 0.02 else rng.gauss(72, 10)
                subject_id = f"s-{len(self.districts):02d}-{len(people):05d}" if self.subject_ids else ""
                people.append(Citizen(name, baseline, baseline, subject_id))
            self.districts.append(people)
        self.words = vocabulary(self.vocabulary_size)
        ranks = range(1, len(self.words) + 1)
        weights = [1 / r**1.07 for r in ranks]
        self.word_cum_weights = list(_accumulate(weights))
        self._turn = 0

    def _district(self, drone: Drone) -> list[Citizen]:
        south, west, north, east = self.city
        row = min(GRID - 1, int((drone.lat - south) / (north - south) * GRID))
        col = min(GRID - 1, int((drone.lon - west) / (east - west) * GRID))
        return self.districts[row * GRID + col]

    def _fly(self, drone: Drone) -> None:
        rng = self.rng
        drone.heading = (drone.heading + rng.gauss(0, 25)) % 360
        drone.speed = min(16.0, max(2.0, drone.speed + rng.gauss(0, 1)))
        metres = drone.speed * self.interval_s
        dlat = metres * math.cos(math.radians(drone.heading)) / 111_320
        dlon = metres * math.sin(math.radians(drone.heading)) / (111_320 * math.cos(math.radians(drone.lat)))
        lat, lon = drone.lat + dlat, drone.lon + dlon
        south, west, north, east = self.city
        if not (south <= lat <= north) or not (west <= lon <= east):
            drone.heading = (drone.heading + 180) % 360  # turn back at the city limits
        else:
            drone.lat, drone.lon = lat, lon
        drone.altitude = min(160.0, max(60.0, drone.altitude + rng.gauss(0, 3)))
        drone.battery -= rng.uniform(0.05, 0.35)
        if drone.battery < 12:
            drone.battery = 100.0  # swapped at the depot

    def next_report(self, now: datetime) -> dict:
        rng = self.rng
        drone = self.fleet[self._turn % len(self.fleet)]
        self._turn += 1
        self._fly(drone)
        district = self._district(drone)
        citizens = []
        for person in rng.sample(district, rng.randint(3, 8)):
            # Mood drifts, pulled back towards the person's baseline.
            person.mood += (person.baseline - person.mood) * 0.1 + rng.gauss(0, 4)
            score = min(100.0, max(0.0, person.mood + rng.gauss(0, 5)))
            citizen = {
                "name": person.name,
                "peacescore": round(score, 1),
                "confidence": round(rng.uniform(0.8, 1.0), 2),
            }
            if person.subject_id:
                citizen["id"] = person.subject_id
            citizens.append(citizen)
        words = rng.choices(self.words, cum_weights=self.word_cum_weights, k=rng.randint(5, 30))
        drone.seq += 1
        return {
            "report_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "drone_id": drone.drone_id,
            "sent_at": now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "seq": drone.seq,
            "location": {"lat": round(drone.lat, 6), "lon": round(drone.lon, 6), "alt_m": round(drone.altitude, 1)},
            "citizens": citizens,
            "words": words,
            "battery_pct": round(drone.battery, 1),
            "heading_deg": round(drone.heading, 1) % 360,
            "speed_mps": round(drone.speed, 2),
            "firmware": drone.firmware,
        }

    def encoded(self, now: datetime) -> tuple[bytes, bytes]:
        """(key, value) of the next report, ready for Kafka."""
        report = self.next_report(now)
        return report["drone_id"].encode(), _encoder.encode(report)

    def backfill(self, count: int, start: datetime, span: timedelta) -> Iterator[tuple[bytes, bytes]]:
        """``count`` reports spread evenly over ``span`` from ``start`` (bulk loads)."""
        step = span / max(1, count)
        for i in range(count):
            yield self.encoded(start + step * i)


_encoder = msgspec.json.Encoder()

_ONSETS = "b c d f g h j k l m n p r s t v w z br ch dr fl gr kr pl sh st tr".split()
_VOWELS = "a e i o u ai ea ou".split()


def vocabulary(size: int) -> list[str]:
    """``size`` words, most common first: the base list, then made-up words of two to four syllables.

    The made-up words are the same for every seed, as a language is the same for every drone.
    """
    words = list(VOCABULARY[:size])
    seen = set(words)
    rng = random.Random(0)
    while len(words) < size:
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total
