"""The store mixins of every domain, in one list that both SQL backends inherit (``DuckDBStore``,
``PostgresStore``): a domain adds its ``nagar/store/<domain>_tables.py`` mixin here, once, on a line
of its own."""

from .alerts_tables import AlertTables
from .climate_tables import ClimateTables
from .forecast_tables import ForecastTables
from .funding_tables import FundingTables
from .mqtt_tables import MqttTables
from .ngsild_tables import NgsildTables
from .opendata_tables import OpenDataTables
from .quality_tables import QualityTables
from .requests_tables import RequestsTables
from .security_tables import SecurityTables
from .waste_tables import WasteTables
from .water_tables import WaterTables

DOMAIN_TABLES: tuple[type, ...] = (
    SecurityTables,
    ClimateTables,
    FundingTables,
    MqttTables,
    WasteTables,
    WaterTables,
    AlertTables,
    QualityTables,
    ForecastTables,
    NgsildTables,
    RequestsTables,
    OpenDataTables,
)
