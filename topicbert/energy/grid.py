"""The carbon intensity of electricity in a place, from codecarbon's own offline tables (never the
network): every country of its global energy mix, and the regions it tells apart (US states, Nordic
bidding zones, Chinese provinces, cloud providers' regions).

The meter prices a run's kWh at its country's intensity (energy/meter.py); Compare can price every
run's stored kWh at one other place's, so runs made in different places compare fairly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

CO2E, CO2 = "CO2e", "CO2"


@dataclass(frozen=True)
class Grid:
    key: str          # "FRA" for a country; "USA/california", "nordic/SE1", "CHN/CN-BJ", "cloud/aws/us-east-1"
    name: str
    g_per_kwh: float  # g per kWh of `gas`
    # what the source counts: CO2 equivalents (every greenhouse gas), or CO2 alone (codecarbon's Chinese
    # provinces): a figure priced at the latter is labelled as such, never as CO2e
    gas: str = CO2E

    @property
    def label(self) -> str:
        return f"{self.name} ({self.g_per_kwh:.0f} g {self.gas}/kWh)"


@lru_cache(maxsize=1)
def _country_mix() -> dict:
    """codecarbon's table by ISO code, read once: grids() looks up every country in it (read-only)."""
    from codecarbon.input import DataSource
    return DataSource().get_global_energy_mix_data()


def country_grid(code: str) -> Grid | None:
    """A country by its 3-letter ISO code, None if codecarbon's table does not list it."""
    row = _country_mix().get(code)
    return Grid(code, row["country_name"], float(row["carbon_intensity"])) if row else None


def _us_states() -> list[Grid]:
    from codecarbon.core.units import EmissionsPerKWh
    from codecarbon.input import DataSource

    states = DataSource().get_country_emissions_data("usa")  # lbs per MWh, by state
    return [Grid(f"USA/{state}", f"United States: {state.title()}",
                 1000 * EmissionsPerKWh.from_lbs_per_mWh(row["emissions"]).kgs_per_kWh)
            for state, row in states.items() if not state.startswith("_")]


def _gas(unit: str) -> str:
    """'gCO2eq/kWh' -> CO2e, 'gCO2/kWh' -> CO2: the gas a table's unit names."""
    return CO2E if unit.replace(".", "").lower().startswith(("gco2e", "gco2eq")) else CO2


def _factor_table(rows: dict, prefix: str, country: str) -> list[Grid]:
    """codecarbon's tables of zones or provinces, each row with its factor in g per kWh and its unit."""
    return [Grid(f"{prefix}/{code}", f"{country}: {row['description']}", float(row["emission_factor"]),
                 _gas(row["unit"])) for code, row in rows.items()]


def _cloud_regions() -> list[Grid]:
    from codecarbon.input import DataSource

    table = DataSource().get_cloud_emissions_data()
    return [Grid(f"cloud/{row.provider}/{row.region}", f"Cloud: {row.providerName} {row.region} ({row.country_name})",
                 float(row.impact))
            for row in table.itertuples() if isinstance(row.impact, (int, float)) and not math.isnan(row.impact)]


@lru_cache(maxsize=1)
def grids() -> tuple[Grid, ...]:
    """Every place codecarbon's tables give an intensity for: countries by name, then regions by name."""
    from codecarbon.input import DataSource

    source = DataSource()
    countries = [grid for code in _country_mix() if (grid := country_grid(code)) is not None]
    regions = (_us_states()
               + _factor_table(source.get_nordic_country_energy_mix_data()["data"], "nordic", "Nordic")
               + _factor_table(source.get_china_provincial_emissions_data()["data"], "CHN", "China")
               + _cloud_regions())
    return tuple(sorted(countries, key=lambda g: g.name) + sorted(regions, key=lambda g: g.name))


def find_grid(key: str) -> Grid | None:
    return next((grid for grid in grids() if grid.key == key), None)


def price(kwh: float | None, kg_co2e: float | None, grid: Grid | None = None) -> float | None:
    """kg CO2e of a reading: as metered (priced where the run ran), or its kWh at `grid`'s intensity (in
    `grid.gas`: CO2 alone where the source counts only that)."""
    if grid is None:
        return kg_co2e
    return None if kwh is None else kwh * grid.g_per_kwh / 1000
